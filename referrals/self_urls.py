"""Refer yourself (issue 12): the public form; mounted at /refer-yourself/ in config/urls.py."""

from django.urls import path

from referrals import self_referral

urlpatterns = [
    path("", self_referral.refer_yourself, name="referrals-self"),
]
