"""Who an event belongs to: identity resolution over one chunk of a workspace's events.

The rules, in order, for every event (the identities it names: userId, anonymousId, and for identify the
phone, email, unionid … in its traits):
- A contact holding any of those identities is a candidate. Candidates known by more than an anonymous
  browser id *before this event* are "identified"; two identified candidates are never merged
  automatically — the event goes to the userId's contact (or the first) and a warning is recorded.
- The surviving contact is the identified candidate, else the one holding the anonymousId. Every other
  candidate (anonymous only) is merged into it: its events, identities and history move and the
  merge is on its timeline.
- A contact has at most one userId: a new userId arriving on a device whose anonymousId belongs to
  another user's contact starts a new contact (a shared device), and the anonymousId stays put.
- Identities nobody holds are attached to the survivor; with no candidate at all, a new visitor is made.
Contacts first met in this chunk are created at the end in one batch ("pending"); merges that involve a
pending contact are folded in memory and never reach the database as two contacts.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from siyu.contacts.models import IdentityType
from siyu.contacts.selectors import contacts_known_identities, identity_owners
from siyu.contacts.services.tracked import IdentityKey, NewVisitor, contacts_merge_by_id
from siyu.core.ids import uuid7
from siyu.tracking.models import WarningCode

ANONYMOUS = IdentityType.ANONYMOUS.value
USER = IdentityType.USER_ID.value


def anonymous_key(value: str) -> IdentityKey:
    return (ANONYMOUS, "", value)


def user_key(value: str) -> IdentityKey:
    return (USER, "", value)


@dataclass
class Conflict:
    message_id: str
    detail: str
    code: str = WarningCode.IDENTITY_CONFLICT


@dataclass
class Resolver:
    owner: dict[IdentityKey, UUID]
    known: dict[UUID, list[IdentityKey]]  # non-anonymous identities per contact
    pending: dict[UUID, NewVisitor] = field(default_factory=dict)
    links: dict[IdentityKey, UUID] = field(default_factory=dict)  # identities to attach to existing contacts
    conflicts: list[Conflict] = field(default_factory=list)
    merges: int = 0
    _parent: dict[UUID, UUID] = field(default_factory=dict)

    @classmethod
    def load(cls, keys: set[IdentityKey]) -> "Resolver":
        owner = identity_owners(keys=keys)
        known = contacts_known_identities(contact_ids=set(owner.values()))
        return cls(owner=owner, known={cid: list(ids) for cid, ids in known.items()})

    # -- bookkeeping ---------------------------------------------------------------------------------

    def find(self, contact_id: UUID) -> UUID:
        while contact_id in self._parent:
            contact_id = self._parent[contact_id]
        return contact_id

    def holder(self, key: IdentityKey) -> UUID | None:
        held = self.owner.get(key)
        return None if held is None else self.find(held)

    def is_identified(self, contact_id: UUID) -> bool:
        return bool(self.known.get(contact_id))

    def user_id_of(self, contact_id: UUID) -> str | None:
        return next((value for kind, _ns, value in self.known.get(contact_id, ()) if kind == USER), None)

    def attach(self, contact_id: UUID, key: IdentityKey) -> None:
        self.owner[key] = contact_id
        if key[0] != ANONYMOUS:
            self.known.setdefault(contact_id, []).append(key)
        if contact_id in self.pending:
            self.pending[contact_id].identities.append(key)
        else:
            self.links[key] = contact_id

    def create(self, keys: list[IdentityKey], *, seen_at: datetime) -> UUID:
        contact_id = uuid7()
        self.pending[contact_id] = NewVisitor(contact_id=contact_id, identities=[], first_seen_at=seen_at)
        for key in keys:
            self.attach(contact_id, key)
        return contact_id

    def merge(self, survivor: UUID, other: UUID) -> UUID:
        """Fold `other` into `survivor`; a contact not yet in the database is folded the other way round."""
        survivor, other = self.find(survivor), self.find(other)
        if survivor == other:
            return survivor
        if survivor in self.pending and other not in self.pending:
            survivor, other = other, survivor
        if other in self.pending:
            visitor = self.pending.pop(other)
            self._parent[other] = survivor
            self.known.pop(other, None)
            for key in visitor.identities:
                self.attach(survivor, key)
            return survivor
        contacts_merge_by_id(survivor_id=survivor, other_id=other, reason="identity")
        self.merges += 1
        self._parent[other] = survivor
        for key in self.known.pop(other, []):
            self.known.setdefault(survivor, []).append(key)
        for key, holder in list(self.links.items()):
            if holder == other:
                self.links[key] = survivor
        return survivor

    # -- the rules -----------------------------------------------------------------------------------

    def resolve(self, event: Mapping[str, Any], *, trait_keys: list[IdentityKey], seen_at: datetime) -> UUID:
        anonymous = anonymous_key(event["anonymousId"]) if event["anonymousId"] else None
        user = user_key(event["userId"]) if event["userId"] else None
        keys: list[IdentityKey] = [k for k in (user, anonymous) if k is not None] + trait_keys
        if event["type"] == "alias" and event["name"]:
            previous = event["name"]
            held_as_user = self.holder(user_key(previous))
            keys.append(user_key(previous) if held_as_user is not None else anonymous_key(previous))

        holders = {key: h for key in keys if (h := self.holder(key)) is not None}
        identified = list(dict.fromkeys(h for h in holders.values() if self.is_identified(h)))
        user_holder = holders.get(user) if user else None

        if user is not None and user_holder is None:
            # A new userId: it may only join a contact that has no other userId.
            others = [h for h in identified if self.user_id_of(h) not in (None, user[2])]
            if others and anonymous is not None and holders.get(anonymous) in others:
                return self.create([user], seen_at=seen_at)

        if len(identified) > 1:
            primary = user_holder or identified[0]
            for holder in identified:
                if holder != primary:
                    self.conflicts.append(
                        Conflict(
                            message_id=event["messageId"],
                            detail=f"identities of two known contacts ({primary}, {holder}) met in one event",
                        )
                    )
            survivor = primary
            refused = {key for key, h in holders.items() if h != primary and self.is_identified(h)}
        else:
            survivor_or_none = (
                (identified[0] if identified else None)
                or (holders.get(anonymous) if anonymous else None)
                or next(iter(holders.values()), None)
            )
            survivor = survivor_or_none or self.create([], seen_at=seen_at)
            refused = set()

        for key, holder in holders.items():
            if key in refused or holder == self.find(survivor):
                continue
            if not self.is_identified(holder):
                survivor = self.merge(survivor, holder)
        survivor = self.find(survivor)
        for key in keys:
            if key not in holders and key not in refused and self.holder(key) is None:
                if key[0] == USER and self.user_id_of(survivor) not in (None, key[2]):
                    continue  # never a second userId on one contact
                self.attach(survivor, key)
        return survivor

    def refused_keys(self, contact_id: UUID, keys: list[IdentityKey]) -> set[IdentityKey]:
        """Of these identities, those held by someone else (so the traits naming them are not applied)."""
        return {key for key in keys if (h := self.holder(key)) is not None and h != self.find(contact_id)}
