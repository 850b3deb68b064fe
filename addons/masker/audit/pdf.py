"""The auditor's PDF of a signed report (fpdf2).

Everything shown comes from the signed document; the signed JSON and its
signature are attached (``embed_file``) so the PDF carries its own proof.
A report signed with a DEV-ONLY key says so in a banner at the top of the
first page and in every page's footer. A fixed ``created`` gives
byte-identical output.
"""

from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.fonts import FontFace

from .report import DEV_ONLY_MARK, SIG_SUFFIX

FONT_DIR = Path(__file__).with_name("fonts")
FONT = "DejaVu"
_STATUS_COLOURS = {
    "full": (198, 239, 206),
    "partial": (255, 235, 156),
    "none": (255, 199, 206),
    "blocked": (221, 235, 247),
}
_BAR = (54, 96, 146)
_DEV_RED = (192, 0, 0)


class _ReportPDF(FPDF):
    dev_only = False

    def footer(self) -> None:
        self.set_y(-12)
        mark = ""
        if self.dev_only:
            self.set_font(FONT, "B", size=7)
            self.set_text_color(*_DEV_RED)
            mark = f" · {DEV_ONLY_MARK} signing key: not evidence for an audit"
        else:
            self.set_font(FONT, size=7)
            self.set_text_color(110)
        self.cell(0, 5, f"Masker Audit Schema v1 · page {self.page_no()}/{{nb}}{mark}", align="C")
        self.set_text_color(0)


def render_pdf(doc: dict[str, Any], signed: bytes, signature: bytes, *, json_name: str, created: datetime) -> bytes:
    pdf = _ReportPDF(format="A4")
    pdf.dev_only = doc.get("signing_key_dev_only") is True
    pdf.set_creation_date(created)
    pdf.set_title(f"Masker compliance report: {doc['session']}")
    pdf.set_author("Masker")
    pdf.set_creator("Masker")
    pdf.add_font(FONT, "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    if pdf.dev_only:
        _dev_banner(pdf, str(doc.get("dev_only_statement", DEV_ONLY_MARK)))

    pdf.set_font(FONT, "B", 16)
    pdf.cell(0, 9, "Masker compliance report", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=8)
    pdf.cell(0, 5, f"Masker Audit Schema v1 · generated {doc['generated_at']}", new_x="LMARGIN", new_y="NEXT")

    _heading(pdf, "Session")
    _table(pdf, [("Fact", "Value"), *_facts(doc)], widths=(45, 135))

    _heading(pdf, "Statement")
    pdf.set_font(FONT, size=8)
    pdf.multi_cell(0, 4, doc["statement"], new_x="LMARGIN", new_y="NEXT")

    _heading(pdf, f"HIPAA Safe Harbor coverage (computed {doc['coverage']['computed_at']})")
    _coverage_table(pdf, doc["coverage"]["categories"])
    pdf.set_font(FONT, size=7)
    pdf.multi_cell(0, 3.5, _evaluation_text(doc["coverage"].get("evaluation")), new_x="LMARGIN", new_y="NEXT")

    _heading(pdf, "Event counts")
    events = doc["events"]
    _table(pdf, [("Event kind", "Count"), *((k, str(v)) for k, v in events["by_kind"].items())], widths=(90, 30))
    if events["by_entity"]:
        pdf.ln(2)
        rows: list[tuple[str, ...]] = [("Entity kind", "Detections", "Redactions", "Other")]
        for kind, counts in events["by_entity"].items():
            det, red = counts.get("detection", 0), counts.get("redaction_applied", 0)
            rows.append((kind, str(det), str(red), str(sum(counts.values()) - det - red)))
        _table(pdf, rows, widths=(60, 30, 30, 30))

    _heading(pdf, "Detections per entity kind" if events["by_entity"] else "Events per kind")
    bars = {k: v.get("detection", 0) for k, v in events["by_entity"].items()} or dict(events["by_kind"])
    _bar_chart(pdf, bars)

    if "pci" in doc:
        _heading(pdf, "PCI DSS scope")
        pdf.set_font(FONT, size=8)
        pdf.multi_cell(0, 4, f"{doc['pci']['note']} Card-number detections in this session: "
                             f"{doc['pci']['card_detections']}.")

    _heading(pdf, "Integrity")
    sig_name = json_name + SIG_SUFFIX
    _table(
        pdf,
        [
            ("Item", "Value"),
            ("Session Merkle root (RFC 6962)", doc["merkle_root_hex"]),
            *_journal_rows(doc),
            ("Signature (Ed25519, base64)", base64.b64encode(signature).decode("ascii")),
            ("Public key fingerprint", doc["signer"]["fingerprint"]),
            ("Public key (base64)", doc["signer"]["public_key_b64"]),
            ("Attachments", f"{json_name} (signed bytes), {sig_name}"),
        ],
        widths=(50, 130),
    )
    pdf.set_font(FONT, size=7)
    pdf.multi_cell(
        0, 3.5,
        "Verify: masker report verify <this.pdf> --pubkey <key>, or extract the attachments and run "
        f"openssl pkeyutl -verify -pubin -inkey <key.pem> -rawin -in {json_name} -sigfile {sig_name}",
    )

    pdf.embed_file(
        bytes=signed, basename=json_name, desc="Signed report, RFC 8785 canonical JSON",
        mime_type="application/json", creation_date=created, modification_date=created,
    )
    pdf.embed_file(
        bytes=signature, basename=sig_name, desc="Ed25519 signature over the JSON attachment",
        mime_type="application/octet-stream", creation_date=created, modification_date=created,
    )
    return bytes(pdf.output())


def _facts(doc: dict[str, Any]) -> list[tuple[str, str]]:
    ev, pol, res, ret, tok = doc["events"], doc["policy"], doc["residual_scan"], doc["retention"], doc["tokenization"]
    hosts = ", ".join(f"{u['host']} ({u['requests']})" for u in doc["upstream"]) or "none"
    return [
        ("Session", doc["session"]),
        ("Agent(s)", ", ".join(doc["agents"]) or "-"),
        ("Time range (UTC)", f"{doc['time_range']['first']} to {doc['time_range']['last']}"),
        ("Policy", f"{pol['name'] or '-'} · sha256 {pol['hash'][:16] or '-'}"
                   + (f" ({len(pol['seen'])} policies in the events: see Statement)" if len(pol["seen"]) > 1 else "")),
        ("Events", f"{ev['count']} (journal seq {ev['first_seq']}..{ev['last_seq']})" if "replicas" not in doc
                   else f"{ev['count']} ({len(doc['replicas'])} replicas: {', '.join(r['replica'] for r in doc['replicas'])})"),
        ("Requests", f"{doc['requests']['forwarded']} forwarded, {doc['requests']['blocked']} blocked"),
        ("Upstream hosts (BAA)", hosts),
        ("Residual-leak scan", f"{res['status']}: {res['scans']} scans, {res['with_findings']} with findings"),
        ("Rehydration", f"{doc['rehydration']['successes']} ok, {doc['rehydration']['failures']} failed"),
        ("Tokenization", f"{', '.join(tok['schemes']) or '-'}; kids {', '.join(tok['kids']) or '-'}"),
        ("Retention", f"{ret['retention_days']} days; request and response payloads are never stored"),
    ]


def _journal_rows(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """The Integrity rows of the journal, or of each replica's journal (a report over several)."""
    events = doc["events"]
    if "replicas" not in doc:
        journal = doc["journal"]
        return [
            ("Session events (seq)", f"{events['count']} ({events['first_seq']}..{events['last_seq']})"),
            ("Journal at generation", f"{journal['size']} events, {journal['chain']}"),
            ("Accepted journal truncations", _truncations(journal)),
            ("Journal Merkle root", journal["merkle_root_hex"]),
            ("Journal last hash", journal["last_hash"]),
        ]
    rows = [("Session events", f"{events['count']} from {len(doc['replicas'])} replicas, merged by "
                               f"{', '.join(doc['merge_order'])}")]
    for r in doc["replicas"]:
        j, ev = r["journal"], r["events"]
        rows += [
            (f"Replica {r['replica']}", f"{ev['count']} events (seq {ev['first_seq']}..{ev['last_seq']}); journal "
                                        f"{j['size']} events, {j['chain']}"),
            ("  accepted truncations", _truncations(j)),
            ("  journal Merkle root", j["merkle_root_hex"]),
            ("  journal last hash", j["last_hash"]),
        ]
    return rows


def _truncations(journal: dict[str, Any]) -> str:
    """One line per accepted truncation that may have removed events of this session."""
    cuts = journal.get("truncations") or []
    if not cuts:
        return "none affecting this session"
    return "; ".join(
        f"seq {t['lost_from_seq']}..{t['lost_to_seq']} LOST (at least {t['lost_events_at_least']} events, "
        f"short of checkpoint size {t['checkpoint_size']}), accepted at seq {t['seq']} on {t['accepted_at']} "
        f"(epoch {t['epoch']}); events of this session may be missing"
        for t in cuts
    )


def _dev_banner(pdf: FPDF, statement: str) -> None:
    """A red box across the top of the first page."""
    pdf.set_fill_color(*_DEV_RED)
    pdf.set_text_color(255)
    pdf.set_font(FONT, "B", 14)
    pdf.cell(0, 9, f"{DEV_ONLY_MARK} SIGNING KEY: NOT EVIDENCE", fill=True, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "B", 8)
    pdf.multi_cell(0, 4.2, statement, fill=True, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0)
    pdf.set_fill_color(255)
    pdf.ln(2)


def _recall_text(entry: dict[str, Any]) -> str:
    """``asq 97.5% of 814; physionet 91.2% of 824``, or the reason there is no number."""
    measured = (entry.get("recall") or {}).get("measured") or []
    if measured:
        return "; ".join(f"{m['set']} {m['recall'] * 100:.1f}% of {m['spans']}" for m in measured)
    return str((entry.get("recall") or {}).get("note") or "not measured")


def _evaluation_text(evaluation: dict[str, Any] | None) -> str:
    if not evaluation:
        return "Measured recall: not measured (no evaluation record was given to this report)."
    if not evaluation.get("applies"):
        return f"Measured recall: not measured ({evaluation.get('reason') or 'no record'})."
    sets = "; ".join(f"{name}: {e.get('docs')} documents, {e.get('spans')} gold values, from {e.get('source')}, "
                     f"measured {e.get('measured_at')}" for name, e in (evaluation.get("sets") or {}).items())
    return ("Measured recall: share of the benchmark values of a category that were masked in full (any "
            f"detected kind counts), by scripts/eval_detect.py with NER model {evaluation.get('model_id')} "
            f"and passes {evaluation.get('passes')}. Sets: {sets}. Recall on these sets is not recall on "
            "this session's traffic.")


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(3)
    pdf.set_font(FONT, "B", 11)
    pdf.cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")


def _table(pdf: FPDF, rows: list[tuple[str, ...]], *, widths: tuple[int, ...]) -> None:
    pdf.set_font(FONT, size=7.5)
    with pdf.table(
        col_widths=widths, width=sum(widths), align="LEFT", line_height=4.2, text_align="LEFT",
        headings_style=FontFace(emphasis="BOLD", fill_color=(230, 230, 230)),
    ) as table:
        for row in rows:
            table.row(row)


def _coverage_table(pdf: FPDF, categories: dict[str, Any]) -> None:
    pdf.set_font(FONT, size=7)
    with pdf.table(
        col_widths=(9, 38, 14, 41, 36, 42), width=180, align="LEFT", line_height=3.8, text_align="LEFT",
        headings_style=FontFace(emphasis="BOLD", fill_color=(230, 230, 230)),
    ) as table:
        table.row(("Cat.", "Category", "Status", "Measured recall (set, share, values)", "Covered kinds",
                   "Gaps and notes"))
        for letter, entry in categories.items():
            status = str(entry.get("status", ""))
            gaps = entry.get("gaps") or []
            gap_text = ", ".join(g["kind"] if isinstance(g, dict) else str(g) for g in gaps)
            row = table.row()
            row.cell(letter)
            row.cell(str(entry.get("category", "")))
            row.cell(status, style=FontFace(fill_color=_STATUS_COLOURS.get(status, (255, 255, 255))))
            row.cell(_recall_text(entry))
            row.cell(", ".join(entry.get("covered") or []) or "-")
            row.cell("; ".join(t for t in (gap_text, str(entry.get("note") or "")) if t) or "-")


def _bar_chart(pdf: FPDF, values: dict[str, int]) -> None:
    """Horizontal bars drawn with rectangles (no image library involved)."""
    items = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))[:16]
    top = max((v for _, v in items), default=0) or 1
    label_w, bar_w, bar_h = 40, 120, 4
    pdf.set_font(FONT, size=7)
    if pdf.will_page_break(len(items) * (bar_h + 1.5) + 4):
        pdf.add_page()
    x0 = pdf.l_margin
    axis_x, y_top = x0 + label_w + 2, pdf.get_y()
    pdf.set_fill_color(*_BAR)
    for label, value in items:
        y = pdf.get_y()
        pdf.set_xy(x0, y)
        pdf.cell(label_w, bar_h, label, align="R")
        width = bar_w * value / top
        if width > 0:
            pdf.rect(axis_x, y + 0.4, width, bar_h - 0.8, style="F")
        pdf.set_xy(axis_x + 2 + width, y)
        pdf.cell(15, bar_h, str(value))
        pdf.set_y(y + bar_h + 1.5)
    pdf.set_draw_color(120)
    pdf.line(axis_x, y_top, axis_x, pdf.get_y() - 1)
    pdf.set_draw_color(0)
    pdf.set_fill_color(255)
    pdf.set_x(x0)
