"""ACR OpenAPI actions that reach an instance's registry: ``ListInstanceEndpoint`` and
``GetAuthorizationToken``, answered from the OCI stand-in attached to the emulated instance.

Field names: [SDK] ``alibabacloud_cr20181201/models/_list_instance_endpoint_response_body.py``
(``Endpoints[]{EndpointType, Enable, Status, Domains[]{Domain, Type}, AclEnable, AclEntries, LinkedVpcs}``)
and ``_get_authorization_token_response_body.py`` (``TempUsername, AuthorizationToken, ExpireTime`` in ms);
reference "ACR OpenAPI additions". ``TempUsername`` is ``cr_temp_user`` as ACR's console documents for
temporary passwords; the token lifetime (1 h) is ⚠ assumed.
"""

from __future__ import annotations

import secrets
from typing import Any

from acrsync.local.acr_model import AcrModel
from acrsync.local.acr_state import AcrApiError

Params = Any
TEMP_USER = "cr_temp_user"
TOKEN_TTL_S = 3600


def attach_registry(model: AcrModel, instance_id: str, registry: Any) -> None:
    """Serve ``instance_id``'s registry from an ``OciRegistry`` stand-in (its ``host`` and ``users``), and
    make the two one store, as an instance's registry and its OpenAPI are in ACR: the OpenAPI lists what
    the registry holds (``ListRepoTag``/``GetRepoTag`` give each tag's manifest digest, reference §2.6).

    So a tagged manifest PUT (distribution spec end-7) becomes a tag with the pushed digest, and a manifest
    DELETE by digest (end-9; the stand-in drops the tags naming it, as distribution does) removes those
    tags from the OpenAPI's view too. Content the other way, a sync task's image arriving in the
    destination's registry, is ``acr_registry_sync``.
    """
    model.registries[instance_id] = registry
    registry.on_push.append(lambda repo, tag, digest: _pushed(model, instance_id, repo, tag, digest))
    registry.on_delete.append(lambda repo, digest: _deleted(model, instance_id, repo, digest))


def _pushed(model: AcrModel, instance_id: str, repository: str, tag: str, digest: str) -> None:
    namespace, _, repo = repository.partition("/")
    if repo:  # ACR EE repositories are NAMESPACE/REPO; anything else has no OpenAPI record
        model.push(instance_id, namespace, repo, tag, digest)


def _deleted(model: AcrModel, instance_id: str, repository: str, digest: str) -> None:
    namespace, _, name = repository.partition("/")
    with model._lock:
        repo = model._find_repo(instance_id, namespace, name)
        if repo is None:
            return
        for tag in [t for t, record in repo.tags.items() if record.digest == digest]:
            del repo.tags[tag]
        repo.modified_ms = model.now_ms()


def _registry(model: AcrModel, instance_id: str) -> Any:
    model.instance(instance_id)  # INSTANCE_NOT_EXIST as every action answers it
    reg = model.registries.get(instance_id)
    if reg is None:
        raise AcrApiError("INSTANCE_NOT_EXIST", f"instance {instance_id} has no registry attached")
    return reg


def list_instance_endpoint(model: AcrModel, p: Params) -> dict[str, Any]:
    reg = _registry(model, p["InstanceId"])
    endpoint = {
        "EndpointType": "internet",
        "Enable": True,
        "Status": "RUNNING",
        "AclEnable": False,
        "AclEntries": [],
        "LinkedVpcs": [],
        "Domains": [{"Domain": reg.host, "Type": "SYSTEM"}],
    }
    return {"Endpoints": [endpoint]}


def get_authorization_token(model: AcrModel, p: Params) -> dict[str, Any]:
    reg = _registry(model, p["InstanceId"])
    password = secrets.token_urlsafe(24)
    reg.users[TEMP_USER] = password  # the newest temporary password is the valid one
    return {
        "TempUsername": TEMP_USER,
        "AuthorizationToken": password,
        "ExpireTime": model.now_ms() + TOKEN_TTL_S * 1000,
    }


ACTIONS = {"ListInstanceEndpoint": list_instance_endpoint, "GetAuthorizationToken": get_authorization_token}
REQUIRED = {"ListInstanceEndpoint": ("InstanceId",), "GetAuthorizationToken": ("InstanceId",)}
