"""``KeywordClassifier``: a deterministic keyword baseline of the triage interface (``TicketClassifier``).

Not the trained model (crmgraph.workflows.triage): a legitimate fallback (``classifier: keywords``) that
needs no training, in English and Chinese. Each category and severity has a list of cue words; the
category with the most cues found wins (ties: the order below), the highest severity any cue names wins.
"""

from __future__ import annotations

import re

from crmgraph.workflows.triage.verdict import Triage

CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("complaint", ("complain", "complaint", "unacceptable", "disappointed", "terrible", "worst", "angry", "refund",
                   "lawyer", "escalate", "投诉", "不满", "太差", "失望", "退款", "愤怒")),
    ("billing", ("invoice", "billing", "charged", "charge", "payment", "overcharged", "credit note", "vat", "发票",
                 "付款", "扣款", "账单", "收费")),
    ("delivery", ("delivery", "shipment", "shipping", "tracking", "parcel", "arrived", "courier", "late", "物流",
                  "发货", "快递", "送货", "到货")),
    ("technical", ("error", "crash", "bug", "not working", "broken", "outage", "down", "login fails", "故障",
                   "报错", "崩溃", "无法使用", "打不开")),
    ("account", ("password", "account", "login", "sign in", "access", "user", "账号", "密码", "登录", "权限")),
)  # fmt: skip
SEVERITIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("urgent", ("urgent", "asap", "immediately", "outage", "production down", "lawyer", "legal", "紧急", "立即",
                "马上", "律师")),
    ("high", ("unacceptable", "angry", "terrible", "worst", "escalate", "still not", "again", "refund", "严重",
              "投诉", "愤怒", "还没有")),
    ("low", ("question", "how do i", "how to", "wondering", "information", "咨询", "请问", "了解")),
)  # fmt: skip
_WORD = re.compile(r"[a-z]")


def _found(text: str, cue: str) -> bool:
    if _WORD.match(cue):  # a Latin cue must be a whole word (or phrase), a CJK cue any substring
        return re.search(rf"\b{re.escape(cue)}", text) is not None
    return cue in text


def language_of(text: str) -> str:
    """``zh`` when the text holds CJK ideographs, else ``en``."""
    return "zh" if re.search(r"[\u4e00-\u9fff]", text) else "en"


class KeywordClassifier:
    """Triage by cue words: ``category`` (``inquiry`` when none is found), ``severity`` (``normal`` when none),
    ``tags`` the category and the language."""

    name = "keywords"

    async def classify(self, tickets: list[tuple[str, str]]) -> list[Triage]:
        return [self.one(subject, text) for subject, text in tickets]

    def one(self, subject: str, text: str) -> Triage:
        body = f"{subject}\n{text}".lower()
        counts = [(sum(_found(body, cue) for cue in cues), -n, name) for n, (name, cues) in enumerate(CATEGORIES)]
        best = max(counts)
        category = best[2] if best[0] > 0 else "inquiry"
        severity = next((name for name, cues in SEVERITIES if any(_found(body, cue) for cue in cues)), "normal")
        hits = best[0] + (severity != "normal")
        confidence = min(1.0, 0.5 + 0.15 * hits)
        tags = (category, f"lang_{language_of(body)}")
        return Triage(severity=severity, category=category, tags=tags, confidence=confidence, classifier=self.name)
