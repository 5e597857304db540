"""Contact list filters <-> query strings, shared by the list page, exports and saved views."""

from urllib.parse import urlencode

from django.http import QueryDict

from siyu.contacts.selectors import ContactFilters

CUSTOM_PREFIX = "cf_"


def filters_from_query(query: QueryDict) -> ContactFilters:
    """?q=&stage=a&stage=b&owner=me&tag=<id>&tag_match=any&channel=<id>&created_from=&created_to=&cf_<key>="""
    custom = {
        key[len(CUSTOM_PREFIX) :]: value
        for key, value in query.items()
        if key.startswith(CUSTOM_PREFIX) and value != ""
    }
    return ContactFilters.from_dict(
        {
            "q": query.get("q", ""),
            "stages": query.getlist("stage"),
            "owner": query.get("owner", ""),
            "tag_ids": query.getlist("tag"),
            "tag_match": query.get("tag_match", "any"),
            "channel_ids": query.getlist("channel"),
            "custom": custom,
            "created_from": query.get("created_from") or None,
            "created_to": query.get("created_to") or None,
        }
    )


def filters_to_query(filters: ContactFilters) -> str:
    pairs: list[tuple[str, str]] = []
    if filters.q:
        pairs.append(("q", filters.q))
    pairs += [("stage", s) for s in filters.stages]
    if filters.owner:
        pairs.append(("owner", filters.owner))
    pairs += [("tag", str(t)) for t in filters.tag_ids]
    if filters.tag_ids and filters.tag_match != "any":
        pairs.append(("tag_match", filters.tag_match))
    pairs += [("channel", str(c)) for c in filters.channel_ids]
    if filters.created_from:
        pairs.append(("created_from", filters.created_from.isoformat()))
    if filters.created_to:
        pairs.append(("created_to", filters.created_to.isoformat()))
    pairs += [(f"{CUSTOM_PREFIX}{k}", str(v)) for k, v in filters.custom.items()]
    return urlencode(pairs)
