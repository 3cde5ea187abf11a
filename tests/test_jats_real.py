"""The JATS parser on real PMC OA articles (tests/fixtures/jats, see PROVENANCE.md): ids,
licences and captions written out by hand."""

from __future__ import annotations

import pytest

from rocov2_fast import parse_jats

from helpers import JATS, jpeg_bytes, scan_rows, write_package


def parse(name: str) -> dict:
    return parse_jats((JATS / name).read_bytes())


def test_bmc_microbiology_ids_licence_and_bold_title_inside_first_p():
    a = parse("1471-2180-11-174.nxml")
    assert (a["pmcid"], a["pmid"], a["doi"], a["year"]) == ("PMC3166277", "21810267", "10.1186/1471-2180-11-174", 2011)
    assert (a["license"], a["license_source"]) == ("CC BY", "xlink_href")
    assert a["license_raw"] == "http://creativecommons.org/licenses/by/2.0"
    assert [f["id"] for f in a["figures"]] == ["F1", "F2", "F3", "F4"]
    assert [f["graphics"] for f in a["figures"]] == [[f"1471-2180-11-174-{i}"] for i in range(1, 5)]
    assert a["figures"][0]["caption"].startswith(
        "Schematic presentation of two models of holin hole formation. Holin monomers (shaded circles) are produced")
    assert "A previous model (open arrows) [28,39] hypothesized" in a["figures"][0]["caption"]
    assert a["figures"][0]["caption"].endswith("adapted from Wang et al. [28] and White et al. [40].")
    # <italic>p</italic><sub><italic>R</italic></sub><italic>' </italic>activity: no space invented, none lost
    assert "Effect of λ's late promoter pR' activity [50] on MLTs" in a["figures"][2]["caption"]
    assert a["figures"][3]["caption"].startswith("Effects of tKCN (timing of KCN addition). (A) On time delay tL - tKCN.")


def test_attribution_fields_title_journal_and_authors_not_reference_authors():
    a = parse("1471-2180-11-174.nxml")
    assert a["title"] == "Factors influencing lysis time stochasticity in bacteriophage λ"
    assert a["journal"] == "BMC Microbiology"
    assert a["authors"] == "Dennehy JJ; Wang IN"  # the 60-odd reference-list names are not authors
    dutch = parse("1472-6831-8-11.nxml")
    assert dutch["journal"] == "BMC Oral Health"
    assert dutch["authors"] == "van der Meulen MJ; John MT; Naeije M; Lobbezoo F"


def test_oral_health_article_without_figures_and_rdf_comment():
    a = parse("1472-6831-8-11.nxml")
    assert (a["pmcid"], a["license"], a["figures"]) == ("PMC2329613", "CC BY", [])


def test_ehp_public_domain_mark_is_not_a_cc_licence_and_two_paragraphs_are_joined():
    a = parse("ehp-116-1694.nxml")
    assert (a["pmcid"], a["pmid"], a["year"]) == ("PMC2599765", "19079722", 2008)
    assert a["license"] is None
    assert a["license_raw"] == "http://creativecommons.org/publicdomain/mark/1.0/"
    assert a["figures"][0]["caption"] == (
        "Exposure to PBDE-47 depressed circulating concentrations of total T4 in males and females (A), "
        "but had no effect on total T3 in males (B). *p < 0.05 compared with control.")
    assert a["figures"][1]["caption"].startswith("Dietary exposure to PBDE-47 altered relative transcripts levels for TSHβ (A)")
    assert [f["graphics"][0] for f in a["figures"]] == ["ehp-116-1694f1", "ehp-116-1694f2", "ehp-116-1694f3"]


def test_annals_by_nc_href_with_creative_commons_type_and_dotted_label():
    a = parse("mds526.nxml")
    assert (a["pmcid"], a["year"], a["license"], a["license_source"]) == ("PMC3574550", 2012, "CC BY-NC", "xlink_href")
    assert [f["label"] for f in a["figures"]] == ["Figure 1.", "Figure 2."]
    assert a["figures"][1]["caption"] == (
        "Age inequalities in advanced stage diagnosis in patients ≥65 by cancer (odds ratios and 95% confidence "
        "intervals for diagnosis in stage III/ IV versus I/II).")


def test_plos_licence_from_words_only_and_title_not_glued_to_paragraph():
    a = parse("pntd.0002065.nxml")
    assert (a["pmcid"], a["pmid"], a["doi"]) == ("PMC3585041", "23469300", "10.1371/journal.pntd.0002065")
    assert (a["license"], a["license_source"]) == ("CC BY", "license_p")
    (f,) = a["figures"]
    assert f["graphics"] == ["pntd.0002065.g001"]
    assert f["caption"].startswith("Location of the study areas. Figure 1 shows the map of the Zambézia Province")


@pytest.mark.parametrize(
    "markup, expected, source",
    [
        ('<license><ali:license_ref xmlns:ali="http://www.niso.org/schemas/ali/1.0/">https://creativecommons.org/licenses/by-nc-nd/4.0/</ali:license_ref></license>', "CC BY-NC-ND", "ali_license_ref"),
        ('<license><ali:license_ref xmlns:ali="http://www.niso.org/schemas/ali/1.0">http://creativecommons.org/licenses/by-sa/4.0/</ali:license_ref></license>', "CC BY-SA", "ali_license_ref"),
        ('<license license-type="cc-by-nc"><license-p>Open.</license-p></license>', "CC BY-NC", "license_type"),
        ('<license><license-p>Creative Commons Attribution-NonCommercial-ShareAlike 4.0</license-p></license>', "CC BY-NC-SA", "license_p"),
        ('<license xlink:href="https://creativecommons.org/publicdomain/zero/1.0/"/>', "CC0", "xlink_href"),
        ('<license license-type="open-access"><license-p>All rights reserved.</license-p></license>', None, "license_type"),
        ("", None, None),
    ],
)
def test_licence_variants(markup, expected, source):
    a = parse_jats(f'<article xmlns:xlink="http://www.w3.org/1999/xlink"><front><article-meta><permissions>{markup}'
                   f"</permissions></article-meta></front></article>".encode())
    assert (a["license"], a["license_source"]) == (expected, source)


def test_figures_anywhere_fig_group_floats_boxed_text_appendix():
    xml = ('<article xmlns:xlink="http://www.w3.org/1999/xlink"><body><fig-group><fig id="a"><graphic xlink:href="a"/></fig>'
           '<fig id="b"><graphic xlink:href="b"/><graphic xlink:href="b2"/></fig></fig-group>'
           '<boxed-text><fig id="c"><graphic xlink:href="c"/></fig></boxed-text></body>'
           '<back><app-group><app><fig id="d"><graphic id="g" xlink:href="d"/></fig></app></app-group></back>'
           '<floats-group><fig id="e"/></floats-group></article>')
    figures = parse_jats(xml.encode())["figures"]
    assert [(f["id"], f["graphics"]) for f in figures] == [
        ("a", ["a"]), ("b", ["b", "b2"]), ("c", ["c"]), ("d", ["d"]), ("e", [])]


def test_tex_math_wrapper_is_removed_and_mathml_twin_skipped():
    cap = ('<p>Size <inline-formula><alternatives><tex-math>\\documentclass[12pt]{minimal}\\usepackage{amsmath}'
           '\\begin{document}$$4\\times 5$$\\end{document}</tex-math><mml:math xmlns:mml="http://www.w3.org/1998/Math/MathML">'
           '<mml:mn>4</mml:mn></mml:math></alternatives></inline-formula> mm, see <ext-link>http://x.org</ext-link>.</p>')
    a = parse_jats(f'<article><body><fig><caption><title>MRI</title>{cap}</caption></fig></body></article>'.encode())
    assert a["figures"][0]["caption"] == "MRI Size $$4\\times 5$$ mm, see http://x.org."


def test_real_nxml_in_a_package_matches_graphics_to_members(tmp_path):
    """A package around a real NXML: the .jpg wins over the .gif thumbnail, matched by stem."""
    pkg = write_package(tmp_path / "in" / "PMC3574550.tar.gz", {
        "PMC3574550/mds526.nxml": (JATS / "mds526.nxml").read_bytes(),
        "PMC3574550/mds52601.gif": _gif(),
        "PMC3574550/mds52601.jpg": jpeg_bytes(),
        "PMC3574550/MDS52602.JPG": jpeg_bytes((500, 500)),
        "PMC3574550/mds526.pdf": b"%PDF-1.4" + bytes(5000),
    })
    df = scan_rows(tmp_path, pkg)
    assert df.select("graphic", "member", "status", "format").rows() == [
        ("mds52601", "PMC3574550/mds52601.jpg", "ok", "jpeg"),
        ("mds52602", "PMC3574550/MDS52602.JPG", "ok", "jpeg"),
    ]
    assert set(df["license"]) == {"CC BY-NC"} and set(df["pmcid"]) == {"PMC3574550"}


def _gif() -> bytes:
    import io

    from PIL import Image
    buf = io.BytesIO()
    Image.new("P", (60, 40)).save(buf, "GIF")
    return buf.getvalue()
