"""The video connector on real video: slides changing between keyframes, speech under
them (espeak-ng), real Tesseract and real faster-whisper; Big Buck Bunny from the corpus.

The slide video is made here with PyAV (h264 + AAC in .mp4), with a 250-frame GOP and
x264's scene-cut detection off, so the only keyframe is the first frame and every slide
after the first appears in predicted frames only.
"""

from __future__ import annotations

import difflib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from docframe.connectors import connector_for, ocr
from docframe.connectors.media import MediaOptions, VideoConnector
from docframe.connectors.media.frames import EXAMINE_EVERY_S
from tests.conftest import SHARED_CORPUS

av = pytest.importorskip("av")
np = pytest.importorskip("numpy")
pymupdf = pytest.importorskip("pymupdf")

BUNNY = SHARED_CORPUS / "video" / "big_buck_bunny_0_30.webm"
needs_tesseract = pytest.mark.skipif(
    not ocr.available("eng"),
    reason=f"screen OCR unavailable: {ocr.missing_reason('eng')} "
    "(apt-get install tesseract-ocr tesseract-ocr-eng; make media-tools)",
)
needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None,
    reason="espeak-ng is not installed: it speaks the test video's sound track "
    "(apt-get install espeak-ng; make media-tools)",
)

FPS = 25
DURATION_S = 10.0
# (start second, text): changes at 3.32 s and 6.72 s, frames 83 and 168, not keyframes
SLIDES = [
    (0.0, "Quarterly revenue grew eleven percent"),
    (3.32, "Warehouse robots reduce picking errors"),
    (6.72, "Next steps: hire two data engineers"),
]
SPOKEN = "The weather in Lisbon was sunny and warm all week."
SPEECH_AT_S = 1.0  # the sentence starts after a second of silence


def norm(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def similar(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, norm(a), norm(b), autojunk=False).ratio()


def slide_image(text: str, width: int, height: int) -> np.ndarray:
    """An RGB picture of one slide: dark text on white, drawn by PyMuPDF."""
    doc = pymupdf.open()
    page = doc.new_page(width=width, height=height)
    size = height / 16
    box = pymupdf.Rect(width * 0.06, height * 0.35, width * 0.94, height * 0.9)
    page.insert_textbox(box, text, fontsize=size, fontname="helv", align=1)
    pix = page.get_pixmap(alpha=False)
    return np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width, 3).copy()


def spoken_wav(tmp: Path, sentence: str) -> Path:
    wav = tmp / "speech.wav"
    # en-us at 130 words a minute: read back word for word by Whisper base
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "130", "-w", str(wav), sentence], check=True)
    return wav


def make_video(
    path: Path,
    slides: list[tuple[float, str]],
    *,
    size: tuple[int, int] = (1280, 720),
    duration_s: float = DURATION_S,
    speech: Path | None = None,
) -> Path:
    """Slides as h264 (GOP 250, no scene cuts) and, if given, ``speech`` as AAC at 1 s."""
    width, height = size
    out = av.open(str(path), "w")
    video = out.add_stream(
        "libx264", rate=FPS, options={"g": "250", "sc_threshold": "0", "preset": "veryfast"}
    )
    video.width, video.height, video.pix_fmt = width, height, "yuv420p"
    if speech is not None:
        sound = out.add_stream("aac", rate=48000, layout="mono")
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=48000)
        with av.open(str(speech)) as src:
            said = [
                p.to_ndarray() for f in [*src.decode(audio=0), None] for p in resampler.resample(f)
            ]
        silence = np.zeros((1, int(48000 * SPEECH_AT_S)), np.float32)
        pcm = np.concatenate([silence, *said], axis=1).astype(np.float32)
        for i in range(0, pcm.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(pcm[:, i : i + 1024]), format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts = 48000, i
            for packet in sound.encode(frame):
                out.mux(packet)
        for packet in sound.encode(None):
            out.mux(packet)
    pictures = [slide_image(text, width, height) for _, text in slides]
    for i in range(int(duration_s * FPS)):
        shown = max(k for k, (start, _) in enumerate(slides) if start <= i / FPS)
        frame = av.VideoFrame.from_ndarray(pictures[shown], format="rgb24")
        frame.pts = i
        for packet in video.encode(frame):
            out.mux(packet)
    for packet in video.encode(None):
        out.mux(packet)
    out.close()
    return path


def keyframe_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [
            float(p.pts * p.time_base)
            for p in container.demux(video=0)
            if p.is_keyframe and p.pts is not None
        ]


def extract(path: Path, **options) -> object:
    connector = VideoConnector().configured(MediaOptions(**options))
    return next(connector.extract(path))


@pytest.fixture(scope="module")
def slides_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng; make media-tools)")
    tmp = tmp_path_factory.mktemp("video")
    return make_video(tmp / "talk.mp4", SLIDES, speech=spoken_wav(tmp, SPOKEN))


@pytest.fixture(scope="module")
def talk(slides_video: Path):
    """The slide video read once with the default options (Whisper base)."""
    if not ocr.available("eng"):
        pytest.skip(f"screen OCR unavailable: {ocr.missing_reason('eng')}")
    return extract(slides_video)


# -- the slide video -----------------------------------------------------------------


@needs_espeak
def test_slides_change_between_keyframes(slides_video):
    assert keyframe_times(slides_video) == [0.0]  # the test means what it says


@needs_espeak
@needs_tesseract
def test_each_slide_is_a_screen_range_covering_its_time(talk):
    screen = [e for e in talk.elements if e.metadata["stream"] == "screen"]
    slack = EXAMINE_EVERY_S + 1 / FPS  # a change is seen at the next frame looked at
    ends = [start for start, _ in SLIDES[1:]] + [DURATION_S]
    for (start, text), end in zip(SLIDES, ends, strict=True):
        hits = [e for e in screen if norm(text) in norm(e.text)]
        assert len(hits) == 1, (text, [(e.text, e.start_s, e.end_s) for e in screen])
        hit = hits[0]
        assert start <= hit.start_s <= start + slack, (text, hit.start_s)
        assert end <= hit.end_s <= end + slack, (text, hit.end_s)
        assert hit.start_s <= hit.metadata["frame_s"] < hit.end_s
        assert hit.metadata["confidence"] > 80
        assert norm(SPOKEN) not in norm(hit.text)  # the screen is not the speech
    assert len(screen) == len(SLIDES)  # equal readings of one slide merged


@needs_espeak
@needs_tesseract
def test_speech_is_transcribed_with_its_time(talk):
    speech = [e for e in talk.elements if e.metadata["stream"] == "speech"]
    said = " ".join(e.text for e in speech)
    assert similar(said, SPOKEN) >= 0.85, said
    assert not any(norm(text) in norm(said) for _, text in SLIDES)
    assert speech[0].start_s == pytest.approx(SPEECH_AT_S, abs=0.6)
    assert speech[-1].end_s <= SPEECH_AT_S + 5.0
    assert talk.metadata["language"] == "en"
    # what was on screen when the words began: the first slide's frame
    first_slide = next(e for e in talk.elements if e.metadata["stream"] == "screen")
    assert speech[0].metadata["thumbnail"] == first_slide.metadata["thumbnail"]


@needs_espeak
@needs_tesseract
def test_elements_in_time_order_and_document_metadata(talk, slides_video):
    starts = [e.start_s for e in talk.elements]
    assert starts == sorted(starts)
    meta = talk.metadata
    assert meta["duration_s"] == pytest.approx(DURATION_S, abs=0.05)  # the picture's, not the
    assert (meta["width"], meta["height"], meta["fps"]) == (1280, 720, 25.0)  # sound's 4 s
    assert (meta["video_codec"], meta["codec"], meta["channels"]) == ("h264", "aac", 1)
    assert set(meta["seconds"]) == {"decode", "transcribe", "ocr"}
    assert meta["seconds"]["transcribe"] > 0 and meta["seconds"]["ocr"] > 0
    assert meta["frames_decoded"] == DURATION_S * FPS
    assert "note" not in meta
    assert talk.title == "talk" and talk.doc_key == slides_video.name


@needs_espeak
@needs_tesseract
def test_thumbnails_are_small_jpegs_named_by_the_elements(talk, tmp_path):
    assert talk.artifacts
    named = {e.metadata["thumbnail"] for e in talk.elements}
    assert named <= set(talk.artifacts)
    for name, data in talk.artifacts.items():
        assert name.endswith(".jpg") and data[:2] == b"\xff\xd8"
        assert len(data) < 60_000
        (tmp_path / name).write_bytes(data)
        with av.open(str(tmp_path / name)) as picture:
            frame = next(picture.decode(video=0))
            assert (frame.width, frame.height) == (320, 180)


@needs_espeak
@needs_tesseract
def test_progress_reports_seconds_of_media(slides_video):
    seen: list[tuple[str, float, float]] = []
    connector = VideoConnector().configured(MediaOptions(asr_model="tiny.en"))
    connector.progress = lambda uri, done, total: seen.append((uri, done, total))
    next(connector.extract(slides_video))
    assert seen and all(uri == str(slides_video) for uri, _, _ in seen)
    assert seen[-1][1] == seen[-1][2] == pytest.approx(DURATION_S, abs=0.05)
    done = [d for _, d, _ in seen]
    assert done == sorted(done)


@needs_espeak
@needs_tesseract
def test_max_seconds_cuts_both_streams_with_a_note(slides_video):
    doc = extract(slides_video, max_seconds=5.0, asr_model="tiny.en")
    assert "cut at 5 s of 10.0 s" in doc.metadata["note"]
    assert max(e.end_s for e in doc.elements) <= 5.0
    screen = [e for e in doc.elements if e.metadata["stream"] == "screen"]
    found = [norm(text) in norm(e.text) for (_, text), e in zip(SLIDES[:2], screen, strict=True)]
    assert all(found)
    assert doc.metadata["frames_decoded"] == 5 * FPS


@needs_espeak
def test_screen_ocr_off_says_so_and_keeps_speech_and_thumbnails(slides_video):
    doc = extract(slides_video, screen_ocr="off", asr_model="tiny.en")
    assert "screen text not read: off" in doc.metadata["note"]
    assert {e.metadata["stream"] for e in doc.elements} == {"speech"}
    assert len(doc.artifacts) == doc.metadata["frames_sampled"] == len(SLIDES)


# -- other videos ----------------------------------------------------------------------


@needs_tesseract
def test_small_silent_video_reads_its_slides(tmp_path):
    """360p with no sound track: frames under 720 px are read at twice their size."""
    slides = [(0.0, "Invoice 4711 is overdue"), (2.2, "Call the supplier on Monday")]
    path = make_video(tmp_path / "small.mkv", slides, size=(640, 360), duration_s=4.0)
    doc = extract(path)
    assert doc.metadata["audio"] == "none" and "codec" not in doc.metadata
    screen = [e for e in doc.elements if e.metadata["stream"] == "screen"]
    found = [norm(text) in norm(e.text) for (_, text), e in zip(slides, screen, strict=True)]
    assert all(found)
    assert screen[1].start_s == pytest.approx(2.2, abs=EXAMINE_EVERY_S + 1 / FPS)
    assert doc.metadata["seconds"]["transcribe"] == 0


def bunny() -> Path:
    if not BUNNY.exists():
        pytest.skip(f"shared video corpus not found ({BUNNY}); it is present on CI machines only")
    return BUNNY


def test_big_buck_bunny_without_speech_or_text_is_a_document():
    path = bunny()
    connector = connector_for(path)
    assert isinstance(connector, VideoConnector)  # a .webm with a picture
    doc = extract(path, asr_model="tiny.en")
    meta = doc.metadata
    assert (meta["video_codec"], meta["codec"], meta["width"], meta["height"]) == (
        "vp8",
        "vorbis",
        1280,
        720,
    )
    assert meta["duration_s"] == pytest.approx(30.0, abs=0.1)
    # music and effects: no words; a cartoon: no text (or at most a stray reading)
    assert sum(len(e.text) for e in doc.elements) < 20, [e.text for e in doc.elements]
    # sampled where the picture changed, not only every frame_interval_s (10 s)
    assert meta["frames_sampled"] > 4
    assert len(doc.artifacts) == meta["frames_sampled"]


def test_accepts_declines_a_webm_with_no_picture(tmp_path):
    path = tmp_path / "voice.webm"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libopus", rate=48000, layout="mono")
        tone = np.sin(np.arange(48000, dtype=np.float32) * 2 * np.pi * 440 / 48000) * 0.3
        frame = av.AudioFrame.from_ndarray(tone[None, :], format="flt", layout="mono")
        frame.sample_rate = 48000
        resampler = av.AudioResampler(format="flt", layout="mono", rate=48000)
        for part in [*resampler.resample(frame), None]:
            for packet in stream.encode(part):
                out.mux(packet)
    assert VideoConnector().accepts(path) is False
    assert VideoConnector().accepts(bunny()) is True
