from django.urls import URLPattern, URLResolver, path

from siyu.tenancy import views

app_name = "settings"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.index, name="index"),
    path("members/", views.members, name="members"),
    path("members/add/", views.member_add, name="member_add"),
    path("members/<uuid:member_id>/edit/", views.member_edit, name="member_edit"),
    path("members/<uuid:member_id>/deactivate/", views.member_deactivate_view, name="member_deactivate"),
    path("roles/", views.roles, name="roles"),
    path("teams/", views.teams, name="teams"),
    path("teams/add/", views.team_add, name="team_add"),
    path("teams/<uuid:team_id>/edit/", views.team_edit, name="team_edit"),
    path("teams/<uuid:team_id>/delete/", views.team_delete_view, name="team_delete"),
    path("api-keys/", views.api_keys, name="api_keys"),
    path("api-keys/add/", views.api_key_add, name="api_key_add"),
    path("api-keys/<uuid:api_key_id>/revoke/", views.api_key_revoke_view, name="api_key_revoke"),
    path("audit/", views.audit, name="audit"),
]
