"""Registry failures as one-line messages the user can act on."""

from __future__ import annotations

from rigging.errors import RiggingError

_MESSAGES = {
    "UNAUTHORIZED": "authentication required or credentials rejected; run `rigging login {host}`",
    "DENIED": "access denied to {repository} for these credentials",
    "NAME_UNKNOWN": "repository {repository} does not exist on {host}",
    "NAME_INVALID": "{repository} is not a valid repository name",
    "MANIFEST_UNKNOWN": "{repository}:{reference} not found on {host}",
    "MANIFEST_INVALID": "the registry rejected the manifest as invalid",
    "MANIFEST_BLOB_UNKNOWN": "the registry lacks a blob the manifest names (upload incomplete?)",
    "BLOB_UNKNOWN": "blob {reference} is not in {repository} on {host}",
    "BLOB_UPLOAD_UNKNOWN": "the upload session expired or was lost",
    "BLOB_UPLOAD_INVALID": "the registry rejected the blob upload",
    "DIGEST_INVALID": "the registry computed another digest for the upload",
    "SIZE_INVALID": "the upload's size did not match",
    "UNSUPPORTED": "the registry does not support this operation",
    "TOOMANYREQUESTS": "the registry is rate-limiting requests; try again later",
}


class RegistryError(RiggingError):
    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class TransientError(RegistryError):
    """A failure worth retrying (connection, 5xx, 429)."""


def describe(code: str | None, status: int, host: str, repository: str, reference: str | None, detail: str) -> str:
    template = _MESSAGES.get(code or "")
    if template is None:
        if status == 401:
            template = _MESSAGES["UNAUTHORIZED"]
        elif status == 403:
            template = _MESSAGES["DENIED"]
        else:
            template = f"the registry answered HTTP {status}" + (f": {detail}" if detail else "")
    return template.format(host=host, repository=repository, reference=reference or "")
