"""The complaint workflow's staff API: cases, access requests and session search (`cases`), and
the recording stream a grantee's browser plays (`stream`)."""
