"""Factories for tests. Tenant rows take the active workspace (see the `workspace` fixture)."""

from typing import Any

import factory
from django.contrib.auth import get_user_model

from siyu.contacts.cleaning import name_search_keys, reversed_digits
from siyu.contacts.models import Channel, Contact, CustomField, FieldType, Identity, Tag, TagGroup
from siyu.tenancy.models import Member, Team, Workspace
from siyu.tenancy.roles import Role

PASSWORD = "correct-horse-battery"  # every user's


class WorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workspace

    name = factory.Sequence(lambda n: f"Workspace {n}")
    slug = factory.Sequence(lambda n: f"ws-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password(PASSWORD)


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    user = factory.SubFactory(UserFactory)
    display_name = factory.Sequence(lambda n: f"成员{n}")
    role = Role.SALES


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel

    name = factory.Sequence(lambda n: f"渠道{n}")
    code = factory.Sequence(lambda n: f"channel-{n}")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    name = factory.Sequence(lambda n: f"客户{n}")

    @classmethod
    def _create(cls, model_class: type[Contact], *args: Any, **kwargs: Any) -> Contact:
        kwargs["name_pinyin"], kwargs["name_initials"] = name_search_keys(kwargs.get("name", ""))
        kwargs["phone_reversed"] = reversed_digits(kwargs.get("phone", ""))
        contact: Contact = super()._create(model_class, *args, **kwargs)
        for kind in ("phone", "email"):
            if getattr(contact, kind):
                Identity.objects.create(contact=contact, type=kind, value=getattr(contact, kind))
        return contact


class TagGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TagGroup

    name = factory.Sequence(lambda n: f"标签组{n}")


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    group = factory.SubFactory(TagGroupFactory)
    name = factory.Sequence(lambda n: f"标签{n}")


class CustomFieldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomField

    key = factory.Sequence(lambda n: f"field_{n}")
    label = factory.Sequence(lambda n: f"字段{n}")
    type = FieldType.TEXT
