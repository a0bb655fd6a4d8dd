"""The ASCII fallback: look-alike glyphs of one cell each, and the switch that turns it on."""

from __future__ import annotations

from cachetui.tui.ascii_output import GLYPHS, ascii_driver, output_is_ascii, to_ascii


def test_every_glyph_becomes_one_ascii_cell() -> None:
    for glyph, plain in GLYPHS.items():
        assert len(plain) == 1 and plain.isascii(), glyph
    assert to_ascii("▼ Directories ✗ … ● ↑") == "v Directories x ~ * ^"
    assert to_ascii("\x1b[1m日本\x1b[0m") == "\x1b[1m??\x1b[0m"
    # breadcrumbs and the min/max legend: '?' before (every screen's crumbs read 'a ? b')
    assert to_ascii("cachetui › app-max ■ final") == "cachetui > app-max # final"


def test_the_fallback_follows_the_output_encoding() -> None:
    assert output_is_ascii("ascii") and output_is_ascii("latin-1")
    assert not output_is_ascii("utf-8")


def test_the_driver_translates_what_it_writes() -> None:
    written: list[str] = []

    class Recorder:
        def write(self, data: str) -> None:
            written.append(data)

    driver = ascii_driver(Recorder)  # type: ignore[arg-type]
    driver().write("├ app ▕ ✗")  # type: ignore[call-arg]
    assert written == ["| app | x"]
