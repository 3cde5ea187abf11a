"""Typed stubs of the Rust extension `rocov2_fast._core`."""

import os
from collections.abc import Iterable, Iterator
from typing import Final, Literal, TypeAlias, TypedDict

import numpy as np
import numpy.typing as npt

__version__: str

#: Every value of a row's `status` (rust/error.rs `Status`; `not_read` is written by the filter).
Status: TypeAlias = Literal[
    "ok", "missing_image", "no_graphic", "decode_error", "too_large", "unsupported_format", "bad_archive",
    "no_xml", "bad_xml", "bad_encoding", "duplicate_reference", "no_figures", "internal_error",
    "license_excluded", "not_read",
]
#: How an image is fitted to the model's square input.
Fit: TypeAlias = Literal["pad", "stretch"]
#: Arrow types of the column tables (pyarrow aliases, `pa.type_for_alias`).
ArrowType: TypeAlias = Literal["string", "int8", "int32", "int64", "bool", "float32", "binary", "large_binary"]
ImageFormat: TypeAlias = Literal["jpeg", "png", "gif", "tiff"]

#: (column, Arrow type) of every scan row, in parquet order (rust/schema.rs).
SCAN_COLUMNS: Final[list[tuple[str, ArrowType]]]
#: Columns the filter gets on top: pixel_index (with pixels), image_bytes (large_binary) and thumb32 (with bytes).
FILTER_COLUMNS: Final[list[tuple[str, ArrowType]]]
#: Every Status, in rust/error.rs order.
STATUSES: Final[list[Status]]
#: The Scanner's default size limits (as in its signature below).
DEFAULT_LIMITS: Final[dict[Literal["max_pixels", "max_image_bytes", "max_xml_bytes", "max_decoded_bytes"], int]]

class FigureDict(TypedDict):
    id: str | None
    label: str | None
    caption: str
    graphics: list[str]
    encoding_error: str | None

class ArticleDict(TypedDict):
    pmcid: str | None
    pmid: str | None
    doi: str | None
    year: int | None
    license: str | None
    license_source: str | None
    license_raw: str | None
    title: str | None
    journal: str | None
    authors: str | None
    figures: list[FigureDict]

class ImageDict(TypedDict):
    format: ImageFormat
    width: int
    height: int
    source_channels: int
    phash: str
    dhash: str
    fragile_dhash_bits: int
    pixels: npt.NDArray[np.uint8]

class ArrowSchema:
    """An Arrow schema, exported through the Arrow PyCapsule interface (`pyarrow.schema(obj)`)."""

    def __arrow_c_schema__(self) -> object: ...

class ArrowBatch:
    """One source's rows as an Arrow record batch in the core's memory, exported through the
    Arrow PyCapsule interface: `pyarrow.record_batch(obj)` imports it without a copy."""

    def __arrow_c_array__(self, requested_schema: object | None = None) -> tuple[object, object]: ...
    def __arrow_c_schema__(self) -> object: ...
    def __len__(self) -> int: ...

def batch_schema(*, with_pixels: bool = False, with_bytes: bool = False) -> ArrowSchema:
    """The schema of a Scanner's batches: SCAN_COLUMNS, then pixel_index with pixels, image_bytes
    and thumb32 with bytes (rust/schema.rs)."""

class FileList:
    """`oa_file_list.csv` read once, for many scanners (`Scanner(file_list=...)` takes it or a path)."""

    def __init__(self, path: str) -> None: ...
    def __len__(self) -> int: ...
    @property
    def unrecognised_licenses(self) -> dict[str, int]:
        """File-list licence values that name no known licence: rows carrying each."""
    def __contains__(self, accession: str) -> bool: ...
    def __getitem__(self, accession: str) -> tuple[str, str | None]:
        """(licence, pmid or None), as `read_file_list`'s values; KeyError if unlisted."""
    def get(self, accession: str, default: tuple[str, str | None] | None = None) -> tuple[str, str | None] | None: ...

class Scanner:
    """Scans sources on its own thread pool; yields one tuple per source, in completion order:
    (source, batch, pixels or None, stored_bytes); `batch` has the columns of `batch_schema`
    for the scanner's `with_pixels` and `with_bytes`, `pixels` is n × size × size × 3 uint8
    (row i of it is the row whose pixel_index is i)."""

    def __init__(
        self,
        inputs: list[str],
        *,
        workers: int = 0,
        file_list: str | FileList | None = None,
        size: int = 224,
        fit: Fit = "pad",
        exact_hash: bool = False,
        with_pixels: bool = False,
        max_pixels: int = 178_956_970,
        max_image_bytes: int = 268_435_456,
        max_xml_bytes: int = 67_108_864,
        with_bytes: bool = False,
        licenses: list[str] | None = None,
        queue: int = 0,
        max_decoded_bytes: int = 536_870_912,
    ) -> None: ...
    @property
    def sources(self) -> list[str]: ...
    @property
    def unrecognised_licenses(self) -> dict[str, int]:
        """File-list licence values that name no known licence: rows carrying each."""
    @property
    def schema(self) -> ArrowSchema:
        """The Arrow schema of every batch this scanner yields."""
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[tuple[str, ArrowBatch, npt.NDArray[np.uint8] | None, int]]: ...
    def __next__(self) -> tuple[str, ArrowBatch, npt.NDArray[np.uint8] | None, int]: ...
    def close(self) -> None: ...

def parse_jats(xml: bytes) -> ArticleDict:
    """Raises InputError (a ValueError) for XML that cannot be parsed."""
def decode_image(
    data: bytes, *, reduce_to: int | None = None, max_pixels: int = 178_956_970, max_decoded_bytes: int = 536_870_912,
) -> ImageDict:
    """Raises InputError (a ValueError) for bytes that cannot be decoded."""
def discover_sources(inputs: list[str]) -> list[str]: ...
def near_duplicate_pairs(hashes: list[int], max_distance: int, *, threads: int = 0) -> list[tuple[int, int, int]]: ...
def antidupl_confirms(
    thumb_a: bytes, thumb_b: bytes, aspect_a: float, aspect_b: float, *,
    max_rms_fraction: float = 0.05, max_aspect_difference: float = 0.03,
) -> bool: ...
def read_file_list(path: str) -> dict[str, tuple[str, str | None]]:
    """{accession: (licence, pmid)}; licences normalised (`CC-BY`, `cc by 4.0` → `CC BY`), a value
    naming no known licence kept as written."""
def read_file_list_checked(path: str) -> tuple[dict[str, tuple[str, str | None]], dict[str, int]]:
    """As read_file_list, plus {licence value naming no known licence: rows carrying it}."""
def normalize_license(text: str) -> str | None: ...
def model_input(data: bytes, *, size: int = 224, fit: Fit = "pad") -> npt.NDArray[np.uint8]:
    """Raises InputError (a ValueError) for bytes that cannot be decoded."""
def pillow_lanczos_gray(gray: npt.NDArray[np.uint8], out_w: int, out_h: int) -> npt.NDArray[np.uint8]:
    """Pillow's LANCZOS resize of a 2-D uint8 array (horizontal pass first), bit-exact."""
def layout(pixels: npt.NDArray[np.uint8]) -> tuple[float, int, list[tuple[int, int, int, int]], int]:
    """Compound-figure layout detector (rust/layout.rs) on decoded pixels, H×W or H×W×3 uint8:
    (compound_layout_score 0..1, panel_count, panels as (x0, y0, x1, y1), panels with a letter)."""
def accession(path: str | os.PathLike[str]) -> str | None:
    """`PMC13900` from `.../PMC13900.tar.gz` or `.../PMC13900.2/`: every ASCII digit between `PMC`
    and the first dot of the file name (rust/schema.rs), else None."""
def read_members(source: str | os.PathLike[str], names: Iterable[str], *, file_names: bool = False) -> dict[str, bytes]:
    """Original bytes of the named members of a package (.tar.gz, several gzip members, plain tar)
    or article folder; names matching nothing are absent. `file_names`: match and key by the
    member's file name. Raises InputError for a source that is gone, truncated or not a tar."""
