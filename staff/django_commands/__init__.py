"""Django's own account commands (`createsuperuser`, `changepassword`) with their changes
ledgered: an app of its own, listed before django.contrib.auth so its commands take their names
(Django lets the earlier app's command win); staff itself must come after auth, whose admin it
replaces."""
