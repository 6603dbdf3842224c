"""Complaint pages (staff sign-in), included at /cases/ under the namespace "complaints".

Ids are taken as plain strings: the services answer a malformed or foreign id with 404 and an
`access.denied` ledger entry, the same as for a well-formed one that is not the caller's.
"""

from django.urls import path

from complaints import views

app_name = "complaints"
urlpatterns = [
    path("", views.case_list, name="case-list"),
    path("new/", views.case_new, name="case-new"),
    path("approvals/", views.approval_queue, name="approval-queue"),
    path("approvals/<str:request_id>/decide/", views.decide, name="decide"),
    path("<str:case_id>/", views.case_detail, name="case-detail"),
    path("<str:case_id>/request-access/", views.request_access, name="request-access"),
    path("<str:case_id>/close/", views.case_close, name="case-close"),
    path("<str:case_id>/recordings/<str:recording_id>/play/", views.player, name="player"),
]
