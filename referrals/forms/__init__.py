"""Forms for the referral pages. They validate input only: no saving, no side effects (views
call the model methods and ``services`` functions)."""

from referrals.forms.base import ErrorSummaryMixin, VersionForm
from referrals.forms.contacts import FollowUpForm, MeasureForm
from referrals.forms.create import ReferralForm
from referrals.forms.lists import ReferralFilterForm
from referrals.forms.moves import AcceptForm, AssignForm, CloseForm, DeclineForm
from referrals.forms.plan import ConnectionForm, ConnectionStatusForm, GoalForm, GoalStatusForm

__all__ = [
    "ErrorSummaryMixin",
    "VersionForm",
    "AcceptForm",
    "AssignForm",
    "DeclineForm",
    "CloseForm",
    "ReferralForm",
    "ReferralFilterForm",
    "FollowUpForm",
    "MeasureForm",
    "GoalForm",
    "GoalStatusForm",
    "ConnectionForm",
    "ConnectionStatusForm",
]
