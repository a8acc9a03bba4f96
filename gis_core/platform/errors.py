"""Domain errors. The API maps each to an HTTP status and an RFC 9457 problem in one place."""

from __future__ import annotations

from typing import Any


class OneGridError(Exception):
    """Base of every error the domain raises on purpose.

    `title` is a short, fixed summary; `detail` says what was wrong in this case; `where`
    names the offending input (a parameter, a field, a pointer) so clients can point at it.
    """

    code = "onegrid-error"
    title = "OneGrid error"

    def __init__(self, detail: str, *, where: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.where = where
        self.extra = extra


class InvalidInput(OneGridError):
    """The request's data is malformed or out of range."""

    code = "invalid-input"
    title = "Invalid input"


class UnknownCRSError(InvalidInput):
    """A CRS identifier nobody knows."""

    code = "unknown-crs"
    title = "Unknown coordinate reference system"


class TooLarge(InvalidInput):
    """A request carrying more than a limit allows (a batch, a photo)."""

    code = "too-large"
    title = "Request too large"


class NotThere(OneGridError):
    """A claim of being at a place that the caller's own track does not bear out (422)."""

    code = "not-there"
    title = "Not at the place"


class LookupOutsideDistrict(OneGridError):
    """A looked-up location that no grid of the district contains: nothing there (404)."""

    code = "outside-district"
    title = "Location outside the district"


class LocationOutsideDistrict(InvalidInput):
    """A point given in a request (a report, a call) that no grid of the district contains (400)."""

    code = "outside-district"
    title = "Location outside the district"


class PhotoTooLarge(TooLarge):
    """A photo over the byte or pixel limit."""

    code = "photo-too-large"
    title = "Photo too large"


class NotAnImage(InvalidInput):
    """An upload that is not a JPEG, PNG or WebP image."""

    code = "not-an-image"
    title = "Not an image"


class TooManyPhotos(InvalidInput):
    """More photos than a report may carry."""

    code = "too-many-photos"
    title = "Too many photos"


class NotFound(OneGridError):
    """A resource that does not exist."""

    code = "not-found"
    title = "Not found"


class AuthError(OneGridError):
    """Missing or wrong credentials."""

    code = "unauthorized"
    title = "Authentication required"


class Forbidden(OneGridError):
    """Authenticated, but not allowed."""

    code = "forbidden"
    title = "Forbidden"


class PasswordChangeRequired(Forbidden):
    """The right password of an account that must choose its own first (a one-time password)."""

    code = "password-change-required"
    title = "Password change required"


class Conflict(OneGridError):
    """The request conflicts with the current state."""

    code = "conflict"
    title = "Conflict"


class RateLimited(OneGridError):
    """Too many requests (or failed logins) in a while; `retry_after` seconds until the next may pass."""

    code = "rate-limited"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int, where: str | None = None) -> None:
        super().__init__(detail, where=where, retry_after=retry_after)
        self.retry_after = retry_after


class ServiceUnavailable(OneGridError):
    """A service OneGrid depends on (the database, an identity provider) cannot be reached right now."""

    code = "unavailable"
    title = "Service unavailable"
