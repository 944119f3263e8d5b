"""What a waiting caller hears, and the callback offer (:mod:`acd.features.waiting.service`)."""

from acd.features.waiting.service import NOT_SERVING, NUMBER_DIGITS, WaitInfo, WaitingService, estimate_accuracy, valid_callback_number

__all__ = ["NOT_SERVING", "NUMBER_DIGITS", "WaitInfo", "WaitingService", "estimate_accuracy", "valid_callback_number"]
