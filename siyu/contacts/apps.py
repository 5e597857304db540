from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "siyu.contacts"
    label = "contacts"
