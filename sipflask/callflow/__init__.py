"""The call's path: Twilio parameters in, TwiML out, calls and attempts recorded.

``params`` reads Twilio's parameters, ``planning`` plans an attempt (shared with the buyer
editor's ``preview``), ``store`` writes calls and attempts, ``voice`` answers the voice webhook
and routes, ``callbacks`` handles dial-action and status; ``directory`` and ``caps`` are what
routing reads and reserves, ``leases`` closes calls left open past their slot leases (a periodic
job), ``simulate`` plays Twilio for ``flask simulate-call``. The webhook views are thin wrappers
around the names re-exported here.
"""
from sipflask.callflow.callbacks import (FINAL_CALL_STATUSES, RETRY_STATUSES, dial_action,
                                         status_callback)
from sipflask.callflow import leases  # noqa: F401  registers the lease sweeper job
from sipflask.callflow.planning import (PlannedAttempt, buyer_spec, plan_for, token_values,
                                        with_plugin_values)
from sipflask.callflow.voice import MSG_ERROR, MSG_NO_BUYER, MSG_UNKNOWN, route_next, start_call

__all__ = [
    "FINAL_CALL_STATUSES", "RETRY_STATUSES", "dial_action", "status_callback",
    "PlannedAttempt", "buyer_spec", "plan_for", "token_values", "with_plugin_values",
    "MSG_ERROR", "MSG_NO_BUYER", "MSG_UNKNOWN", "route_next", "start_call",
]
