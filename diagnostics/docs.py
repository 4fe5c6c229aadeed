"""Every documentation address the package prints, in one list, each checked against Microsoft's published docs.

Checked on 2026-12-07 against the docs' source repositories (the page's file exists at the path the address
names; anchors are the page's headings): MicrosoftDocs/SupportArticles-docs
(support/dynamics-365/customer-service/email/incoming-email-not-converted-case.md, common-email-error-messages.md),
MicrosoftDocs/dynamics-365-customer-engagement (ce/customer-service/administer/
automatically-create-update-records.md, arc-faqs.md), MicrosoftDocs/power-platform (power-platform/admin/
troubleshooting-monitoring-server-side-synchronization.md, email-message-filtering-correlation.md).
A test holds every address the package prints to this list.
"""

from __future__ import annotations

_SUPPORT = "https://learn.microsoft.com/troubleshoot/dynamics-365/customer-service/email/"
SUPPORT_ARTICLE = _SUPPORT + "incoming-email-not-converted-case"
SYMPTOM_2 = SUPPORT_ARTICLE + "#symptom-2"  # the account the rules run under is deleted or disabled
CAUSE_2 = SUPPORT_ARTICLE + "#cause-2-email-activity-is-created-but-related-queueitem-isnt-found"
CAUSE_3 = SUPPORT_ARTICLE + "#cause-3-the-email-is-coming-from-an-unknown-sender"
CAUSE_5 = SUPPORT_ARTICLE + "#cause-5-the-contact-and-account-have-different-email-addresses"
CAUSE_6 = SUPPORT_ARTICLE + "#cause-6-the-email-is-sent-using-only-the-bcc-field"
COMMON_ERRORS = _SUPPORT + "common-email-error-messages"
LEARN_ARC = "https://learn.microsoft.com/dynamics365/customer-service/administer/automatically-create-update-records"
RULE_OWNER_CONTACTS = LEARN_ARC + "#create-contacts-for-unknown-senders-using-rule-owner-context"
ARC_FAQ = "https://learn.microsoft.com/dynamics365/customer-service/administer/arc-faqs"
TROUBLESHOOT_SYNC = ("https://learn.microsoft.com/power-platform/admin/"
                     "troubleshooting-monitoring-server-side-synchronization")
CORRELATION = "https://learn.microsoft.com/power-platform/admin/email-message-filtering-correlation"
HEADERS_EOP = "https://learn.microsoft.com/defender-office-365/message-headers-eop-mdo"

ADDRESSES: frozenset[str] = frozenset({
    SUPPORT_ARTICLE, SYMPTOM_2, CAUSE_2, CAUSE_3, CAUSE_5, CAUSE_6, COMMON_ERRORS, LEARN_ARC, RULE_OWNER_CONTACTS,
    ARC_FAQ, TROUBLESHOOT_SYNC, CORRELATION, HEADERS_EOP,
})
