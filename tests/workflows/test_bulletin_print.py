"""The bulletin PDF in the official layout: set in the 宋 serif (Noto Serif CJK SC) where it is
installed, about three problems with their photos a page, and the 抄送 (cc) line at the end."""

from __future__ import annotations

import ctypes
import shutil
import subprocess

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from workflows.bulletins import services as svc
from workflows.models import Bulletin
from workflows.tickets import services

COPIED_TO = "Copied to: %(cc)s."
SERIF = "Noto Serif CJK SC"


def serif_installed() -> bool:
    if shutil.which("fc-list") is None:
        return False
    families = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True).stdout
    return SERIF in families


def cc_line(cc: str) -> str:
    with translation.override("zh-hans"):
        return gettext(COPIED_TO) % {"cc": cc}


@pytest.fixture
def make_bulletin(huji, huji_village, inspector, task_force, make_photo, deadline):
    def make(n: int, *, issue: bool = True) -> Bulletin:
        tickets = [
            services.rectification_create(
                by=inspector,
                town=huji,
                village=huji_village,
                description=f"村内坑塘漂浮物较多，岸边堆放生活垃圾未及时清理（问题{i + 1}）",
                source_kind="patrol",
                site_label=f"坑塘{i + 1}",
                before_photos=[make_photo(inspector), make_photo(inspector)],
            )
            for i in range(n)
        ]
        bulletin = svc.bulletin_create(
            by=task_force,
            kind="problems",
            title="关于农村人居环境整治问题的通报",
            default_deadline=deadline,
            intro="近期县专班对全县农村人居环境整治情况开展了暗访检查，现将发现的问题通报如下，"
            "请各乡镇（街道）按期整改到位。",
        )
        svc.bulletin_items_set(bulletin=bulletin, by=task_force, tickets=tickets)
        return svc.bulletin_issue(bulletin=bulletin, by=task_force) if issue else bulletin

    return make


def pdf_of(client, task_force, bulletin) -> pdfium.PdfDocument:
    client.force_login(task_force)
    response = client.get(reverse("bulletin_pdf", args=[bulletin.pk]))
    assert response.status_code == 200
    return pdfium.PdfDocument(b"".join(response.streaming_content))


def text_of(document) -> str:
    text = "".join(page.get_textpage().get_text_range() for page in document)
    return text.replace("\ufffe", "")


def flat(text: str) -> str:
    """Without line breaks and spaces: a line wrapped on paper is still one sentence."""
    return "".join(text.split())


def font_of(page, index: int) -> str:
    textpage = page.get_textpage()
    flags = ctypes.c_int()
    size = pdfium_c.FPDFText_GetFontInfo(textpage.raw, index, None, 0, ctypes.byref(flags))
    name = ctypes.create_string_buffer(size)
    pdfium_c.FPDFText_GetFontInfo(textpage.raw, index, name, size, ctypes.byref(flags))
    return name.value.decode()


def font_at(document, text: str) -> str:
    """The name of the font the first character of `text` is printed in (first page it is on)."""
    for page in document:
        index = page.get_textpage().get_text_range().find(text)
        if index >= 0:
            return font_of(page, index)
    raise AssertionError(f"{text!r} is not in the PDF")


# --- 抄送 -------------------------------------------------------------------------------------


def test_the_pdf_ends_with_the_cc_line(client, task_force, make_bulletin, settings):
    settings.BULLETIN_CC = "县委办公室，县政府办公室"
    bulletin = make_bulletin(2)

    text = text_of(pdf_of(client, task_force, bulletin))

    line = flat(cc_line("县委办公室，县政府办公室"))
    assert line in flat(text)
    signature = flat(text).rindex("金乡县农村人居环境整治工作专班")
    assert signature < flat(text).index(line)  # at the end, after the signature


def test_the_cc_line_is_frozen_at_issue(client, task_force, make_bulletin, settings):
    settings.BULLETIN_CC = "县委办公室"
    bulletin = make_bulletin(1)
    settings.BULLETIN_CC = "县纪委监委"  # changed after the issue

    text = flat(text_of(pdf_of(client, task_force, bulletin)))

    assert flat(cc_line("县委办公室")) in text and "县纪委监委" not in text


def test_a_draft_previews_the_cc_line_and_the_default_is_printed(
    client, task_force, make_bulletin, settings
):
    draft = make_bulletin(1, issue=False)
    assert settings.BULLETIN_CC  # the default the county may override (env BULLETIN_CC)

    text = flat(text_of(pdf_of(client, task_force, draft)))
    page = client.get(reverse("bulletin_detail", args=[draft.pk])).content.decode()

    assert flat(cc_line(settings.BULLETIN_CC)) in text
    assert cc_line(settings.BULLETIN_CC) in page


def test_a_bulletin_issued_before_the_cc_line_prints_todays(
    client, task_force, make_bulletin, settings
):
    bulletin = make_bulletin(1)
    snapshot = {key: value for key, value in bulletin.snapshot.items() if key != "cc"}
    Bulletin.objects.filter(pk=bulletin.pk).update(snapshot=snapshot)
    settings.BULLETIN_CC = "县委办公室"

    assert flat(cc_line("县委办公室")) in flat(text_of(pdf_of(client, task_force, bulletin)))


# --- fonts and layout -------------------------------------------------------------------------


@pytest.mark.skipif(not serif_installed(), reason=f"{SERIF} is not installed (fonts-noto-cjk)")
def test_title_and_text_are_set_in_the_serif(client, task_force, make_bulletin):
    bulletin = make_bulletin(2)

    document = pdf_of(client, task_force, bulletin)

    title = font_at(document, "关于农村人居环境整治问题的通报")
    body = font_at(document, "近期县专班")
    item = font_at(document, "村内坑塘漂浮物")
    assert "NotoSerifCJK" in title.replace("-", "") and "Bold" in title
    assert body.replace("-", "").endswith("NotoSerifCJKSC")
    assert item.replace("-", "").endswith("NotoSerifCJKSC")


def test_nine_problems_with_photos_fit_on_four_pages(client, task_force, make_bulletin):
    bulletin = make_bulletin(9)

    document = pdf_of(client, task_force, bulletin)

    assert len(document) <= 4  # about three problems a page (two under the header)
    images = sum(
        1 for page in document for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE])
    )
    assert images == 18  # every problem's two photos
    text = flat(text_of(document))
    assert all(f"问题{i}）" in text for i in range(1, 10))
