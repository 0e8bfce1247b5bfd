"""Exceptions of the Eniscope hook.

Terminal failures (bad key, bad credentials, missing permission, an unsupported channel) are kept
apart from transient ones so that Airflow's task retry only re-runs what can succeed later.
Messages never contain a credential.
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowFailException


class EniscopeError(Exception):
    """Base class of every error raised by the Eniscope hook."""

    def __init__(self, message: str, *, status: int | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.path = path

    def __reduce__(self) -> tuple:
        # Keyword-only attributes survive pickling/deepcopy (process pools, Airflow internals).
        return (_rebuild, (type(self), str(self), self.__dict__))


def _rebuild(cls: type[EniscopeError], message: str, state: dict) -> EniscopeError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class EniscopeAuthError(EniscopeError, AirflowFailException):
    """The API key, the credentials or the account's permissions were rejected (never retried).

    ``cause`` is ``"api_key"``, ``"credentials"`` or ``"permission"``: the most likely culprit.
    """

    def __init__(
        self, message: str, *, cause: str, status: int | None = None, path: str | None = None
    ) -> None:
        super().__init__(message, status=status, path=path)
        self.cause = cause


class ChannelUnsupportedError(EniscopeError):
    """The channel answered 500 "Invalid Parameter": a sensor asked for E/P, or a virtual channel."""

    def __init__(self, channel_id: int, message: str, *, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message, status=500, path=f"/readings/{channel_id}")
        self.channel_id = channel_id
        self.fields = fields


class EniscopeNotFoundError(EniscopeError):
    """404: the organisation, channel or device does not exist (never retried)."""


class EniscopeRequestError(EniscopeError):
    """The API refused the request itself (400, 402, 409, 412, other 4xx): retrying cannot help."""


class EniscopeConfigError(EniscopeRequestError, AirflowFailException):
    """The connection cannot work as configured (never retried).

    A malformed or non-HTTP base URL, a bad extra, or a host that answers 404 to the endpoints
    every Eniscope Core API has (so it is something else). Retrying cannot help: fix the connection.
    """


class EniscopeTransientError(EniscopeError):
    """Timeouts, connection errors, 429 or 5xx persisted after every retry; a later task try may work."""


class EniscopeResponseError(EniscopeError):
    """The response body was not the JSON the API documents (malformed, truncated, wrong shape)."""
