"""Errors the client raises: one class per ``error.type`` of the caller API, all carrying the
type, the HTTP status, the attempt, the task id and, for failed tasks, the exit-code class."""

from __future__ import annotations

from typing import Any, Dict, Optional, Type

from .. import errors as codes


class HearthError(Exception):
    """Base of every client error. ``type`` is the wire ``error.type``."""

    type: str = "Error"

    def __init__(
        self,
        message: str,
        *,
        type: Optional[str] = None,  # noqa: A002 - the wire's field name
        status: Optional[int] = None,
        attempt: Optional[int] = None,
        task_id: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        if type is not None:
            self.type = type
        self.message = message
        self.status = status
        self.attempt = attempt
        self.task_id = task_id

    @property
    def exit_code(self) -> Optional[int]:
        """The worker's exit code for this class (1, 2, 65, 75, 124), None for the others."""
        return codes.exit_code_of(self.type)

    def __str__(self) -> str:
        where = (
            f" (task {self.task_id}, attempt {self.attempt})"
            if self.task_id and self.attempt
            else f" (task {self.task_id})"
            if self.task_id
            else ""
        )
        return f"{self.type}: {self.message}{where}"


# Failed tasks: the exit-code classes.
class UserCodeError(HearthError):
    """The handler raised (exit 1)."""

    type = codes.USER_ERROR


class BadConfigurationError(HearthError):
    """The handler could not be loaded or its output cannot be returned (exit 2)."""

    type = codes.BAD_CONFIGURATION


class InputRejectedError(HearthError):
    """The input could not be decoded or bound to the handler's parameters (exit 65)."""

    type = codes.INPUT_REJECTED


class WorkerFatalError(HearthError):
    """The handler raised ``FatalError``: the worker restarted (exit 75)."""

    type = codes.FATAL


class TaskTimeoutError(HearthError):
    """The attempt passed its deadline (exit 124), or the gateway stopped waiting (504)."""

    type = codes.TIMEOUT


class DisruptedError(HearthError):
    type = codes.DISRUPTED


class TaskCancelledError(HearthError):
    type = codes.CANCELLED


# Requests the gateway refused.
class BadRequestError(HearthError):
    type = "BadRequest"


class UnauthorizedError(HearthError):
    type = "Unauthorized"


class ForbiddenError(HearthError):
    type = "Forbidden"


class NotFoundError(HearthError):
    type = "NotFound"


class NotReadyError(HearthError):
    type = "NotReady"


class ConflictError(HearthError):
    type = "Conflict"


class TooLargeError(HearthError):
    type = "TooLarge"


class QueueFullError(HearthError):
    type = "QueueFull"


class InternalError(HearthError):
    """The gateway failed (500)."""

    type = "Internal"


class GatewayUnavailableError(HearthError):
    """The gateway could not be reached or answered something that is not the protocol."""

    type = "Unavailable"


_BY_TYPE: Dict[str, Type[HearthError]] = {
    cls.type: cls
    for cls in (
        UserCodeError,
        BadConfigurationError,
        InputRejectedError,
        WorkerFatalError,
        TaskTimeoutError,
        DisruptedError,
        TaskCancelledError,
        BadRequestError,
        UnauthorizedError,
        ForbiddenError,
        NotFoundError,
        NotReadyError,
        ConflictError,
        TooLargeError,
        QueueFullError,
        InternalError,
        GatewayUnavailableError,
    )
}

_BY_STATUS: Dict[int, Type[HearthError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: NotReadyError,
    413: TooLargeError,
    429: QueueFullError,
    500: InternalError,
    503: GatewayUnavailableError,
    504: TaskTimeoutError,
}


def from_error_body(body: Any, status: Optional[int], task_id: Optional[str] = None) -> HearthError:
    """The exception for a ``{"error": {type, message, attempt}}`` body (or whatever came)."""
    detail: Dict[str, Any] = {}
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        detail = body["error"]
    kind = detail.get("type") if isinstance(detail.get("type"), str) else None
    message = detail.get("message") if isinstance(detail.get("message"), str) else None
    attempt = detail.get("attempt") if isinstance(detail.get("attempt"), int) else None
    tid = detail.get("taskId") if isinstance(detail.get("taskId"), str) else task_id
    cls = _BY_TYPE.get(kind) if kind is not None else None
    if cls is None:
        cls = _BY_STATUS.get(status, GatewayUnavailableError) if status is not None else GatewayUnavailableError
    if message is None:
        message = f"gateway answered {status}" if status is not None else "request failed"
        if not detail and body:
            message += f": {str(body)[:300]}"
    return cls(message, type=kind or cls.type, status=status, attempt=attempt, task_id=tid)
