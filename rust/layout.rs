//! Compound-figure layout detector that needs no training data: panel gutters from row/column
//! projection profiles of the decoded image, recursive guillotine (X-Y) cuts into sub-panel
//! rectangles, and panel-letter blobs as extra evidence.
//!
//! Works on a gray copy reduced (box filter, integer factor) to at most [`MAX_SIDE`] px a side.
//!
//! * A *uniform line* is a row (or column) of a rectangle whose pixels lie, for at least 97 %,
//!   within about ±20 grey levels of the line's mode: a light or dark gutter, a margin.
//! * *Trimming* drops uniform lines at the edges of a rectangle (white margins, black borders).
//! * A *band* is a run of uniform lines strictly inside a trimmed rectangle: a full-width (or
//!   full-height) gutter candidate. Adjacent uniform lines of different values (a white gutter
//!   with a black rule in it) form one band.
//! * The bands of one direction cut the rectangle into parts. Trivial cuts are undone (the band
//!   is dropped and its two parts merged) until every part is a plausible panel: at least 8 % of
//!   the rectangle and 20 % of the largest part long, at least 30 % of its area content after its
//!   own trimming, and not mostly blank lines (lines of text, a legend beside a chart).
//! * A band crossed by a line (the same position off-level in most of its lines) is no gutter.
//! * *Straightness* of a side: the fraction of positions along the band where one of the next two
//!   lines outward differs from the band's pixel (image panels end in a straight edge; the
//!   background of a micrograph or the space around a chart's text does not); a full-length step
//!   between two flat levels inside the band counts as straight. *Strong* bands are straight
//!   (≥ 0.4) on both sides: confidence `0.5 + 0.3·straightness + 0.2·cleanliness`; *weak* ones
//!   `0.2 + 0.3·straightness + 0.1·cleanliness` and may only cut the whole figure.
//! * Parts are cut again with strong bands (the direction with the most confident cut), up to depth 4. The
//!   leaves are the panels.
//! * A *panel letter* is a small isolated high-contrast blob (letter-sized, letter-shaped) in the
//!   top corners of a panel.
//!
//! `score = 1 − (1 − c)·(1 − 0.6·l)` with c the most confident accepted cut and l the fraction
//! of panels with a letter, when there are ≥ 2 panels; with a single panel,
//! `score = 0.4 · c'` where c' is the confidence the best rejected band would have had (so
//! single images stay below 0.4).

use crate::decode::Pixels;
use crate::resize::{box_reduce_gray, to_gray};

/// Longest side the detector works at.
pub const MAX_SIDE: u32 = 512;
const UNIFORM_PERCENT: u32 = 97;
const MAX_DEPTH: u32 = 4;
const MIN_PART_PX: u32 = 12;
const MIN_PART_FRACTION: f32 = 0.08;
const MIN_PART_OF_LARGEST: f32 = 0.2;
const MIN_CONTENT_FILL: f32 = 0.3;
const MAX_BLANK_FRACTION: f32 = 0.3;
/// A pixel next to a band "differs" from it by more than this many grey levels.
const EDGE_CONTRAST: i32 = 12;
/// A cut is strong when at least this fraction of both its edges is straight.
const MIN_STRAIGHTNESS: f32 = 0.4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

impl Rect {
    pub fn width(&self) -> u32 {
        self.x1 - self.x0
    }
    pub fn height(&self) -> u32 {
        self.y1 - self.y0
    }
    fn area(&self) -> u64 {
        self.width() as u64 * self.height() as u64
    }
}

#[derive(Debug, Clone)]
pub struct Layout {
    /// 0..1: how sure the layout is a multi-panel (compound) figure.
    pub score: f32,
    /// Panels found (1: a single image).
    pub panel_count: u32,
    /// Panel rectangles in the input's pixel coordinates.
    pub panels: Vec<Rect>,
    /// Panels with a letter blob in a top corner.
    pub letters: u32,
}

/// One row or column of a rectangle.
#[derive(Debug, Clone, Copy)]
struct Line {
    uniform: bool,
    /// The line's reference level (median of five samples).
    value: u8,
    /// Fraction of the line within about ±12 levels of its mode.
    clean: f32,
    /// Pixels more than 20 levels off (exact for uniform lines).
    outliers: u32,
}

/// The line's statistics; stops early once it cannot be uniform (most lines of an image).
fn line_of(pixels: &[u8]) -> Line {
    let n = pixels.len();
    let mut samples = [0u8; 5];
    for (k, s) in samples.iter_mut().enumerate() {
        *s = pixels[n * (2 * k + 1) / 10];
    }
    samples.sort_unstable();
    let reference = samples[2] as i32;
    let allowed = n * (100 - UNIFORM_PERCENT as usize) / 100;
    let (mut outliers, mut close) = (0usize, 0usize);
    for &p in pixels {
        let d = (p as i32 - reference).abs();
        if d > 20 {
            outliers += 1;
            if outliers > allowed {
                return Line { uniform: false, value: reference as u8, clean: 0.0, outliers: outliers as u32 };
            }
        } else {
            close += (d <= 12) as usize;
        }
    }
    Line { uniform: true, value: reference as u8, clean: close as f32 / n.max(1) as f32, outliers: outliers as u32 }
}

struct Gray<'a> {
    data: &'a [u8],
    width: u32,
    /// The image transposed: columns as contiguous rows.
    columns: Vec<u8>,
    height: u32,
}

impl Gray<'_> {
    fn row(&self, y: u32, x0: u32, x1: u32) -> &[u8] {
        let start = (y * self.width) as usize;
        &self.data[start + x0 as usize..start + x1 as usize]
    }

    fn column(&self, x: u32, y0: u32, y1: u32) -> &[u8] {
        let start = (x * self.height) as usize;
        &self.columns[start + y0 as usize..start + y1 as usize]
    }

    /// Row and column lines of `r`.
    fn profiles(&self, r: Rect) -> (Vec<Line>, Vec<Line>) {
        let rows = (r.y0..r.y1).map(|y| line_of(self.row(y, r.x0, r.x1))).collect();
        let cols = (r.x0..r.x1).map(|x| line_of(self.column(x, r.y0, r.y1))).collect();
        (rows, cols)
    }

    /// `r` without its uniform edge lines, with its profiles; None when it is all blank.
    fn trim(&self, mut r: Rect) -> Option<(Rect, Vec<Line>, Vec<Line>)> {
        for _ in 0..4 {
            let (rows, cols) = self.profiles(r);
            let first = |lines: &[Line]| lines.iter().position(|l| !l.uniform);
            let last = |lines: &[Line]| lines.iter().rposition(|l| !l.uniform);
            let (Some(top), Some(bottom), Some(left), Some(right)) = (first(&rows), last(&rows), first(&cols), last(&cols)) else {
                return None;
            };
            let t = Rect { x0: r.x0 + left as u32, y0: r.y0 + top as u32, x1: r.x0 + right as u32 + 1, y1: r.y0 + bottom as u32 + 1 };
            if t == r {
                return Some((r, rows, cols));
            }
            r = t;
        }
        let (rows, cols) = self.profiles(r);
        Some((r, rows, cols))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Axis {
    /// Horizontal bands: cuts between rows.
    Rows,
    /// Vertical bands: cuts between columns.
    Cols,
}

#[derive(Debug, Clone, Copy)]
struct Band {
    /// Offsets along the axis inside the rectangle, [start, end).
    start: u32,
    end: u32,
}

#[derive(Debug, Clone, Copy)]
struct Confidence {
    /// Straight panel edges on both sides: the cut splits panels.
    strong: bool,
    value: f32,
}

struct Cut {
    axis: Axis,
    parts: Vec<Rect>,
    confidence: f32,
}

fn bands_of(lines: &[Line]) -> Vec<Band> {
    let mut bands = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].uniform {
            let start = i;
            while i < lines.len() && lines[i].uniform {
                i += 1;
            }
            // Trimmed rectangles have non-uniform first and last lines: every run is interior.
            if start > 0 && i < lines.len() {
                bands.push(Band { start: start as u32, end: i as u32 });
            }
        } else {
            i += 1;
        }
    }
    bands
}

struct Detector<'a> {
    gray: Gray<'a>,
    cuts: Vec<f32>,
    best_rejected: f32,
    panels: Vec<Rect>,
}

impl Detector<'_> {
    fn sub(r: Rect, axis: Axis, from: u32, to: u32) -> Rect {
        match axis {
            Axis::Rows => Rect { y0: r.y0 + from, y1: r.y0 + to, ..r },
            Axis::Cols => Rect { x0: r.x0 + from, x1: r.x0 + to, ..r },
        }
    }

    /// Pixel at offset `at` along `axis` and position `i` across it, inside `r`.
    #[inline]
    fn pixel(&self, r: Rect, axis: Axis, at: u32, i: u32) -> u8 {
        match axis {
            Axis::Rows => self.gray.data[((r.y0 + at) * self.gray.width + r.x0 + i) as usize],
            Axis::Cols => self.gray.columns[((r.x0 + at) * self.gray.height + r.y0 + i) as usize],
        }
    }

    /// Fraction of positions across the band where the content starts right at its edge `edge`:
    /// one of the next two lines outward differs from the band's own pixel there.
    fn straightness(&self, r: Rect, axis: Axis, len: u32, edge: u32, step: i64) -> f32 {
        let across = match axis {
            Axis::Rows => r.width(),
            Axis::Cols => r.height(),
        };
        let outward: Vec<u32> = (1..=2i64).map(|k| edge as i64 + step * k).filter(|&a| a >= 0 && a < len as i64).map(|a| a as u32).collect();
        let hits = (0..across)
            .filter(|&i| {
                let inside = self.pixel(r, axis, edge, i) as i32;
                outward.iter().any(|&a| (self.pixel(r, axis, a, i) as i32 - inside).abs() > EDGE_CONTRAST)
            })
            .count();
        hits as f32 / across.max(1) as f32
    }

    /// Is the band crossed by a line (a chart's axis through the gap between two bars)? JPEG
    /// noise puts outliers anywhere; a crossing line puts them at one position in every line.
    fn crossed(&self, r: Rect, axis: Axis, band: Band, band_lines: &[Line], across: u32) -> bool {
        if band_lines.len() == 1 {
            return band_lines[0].outliers > across / 200;
        }
        let need = ((band_lines.len() as f32 * 0.8).ceil() as usize).max(2);
        (0..across).any(|i| {
            band_lines
                .iter()
                .enumerate()
                .filter(|(k, l)| (self.pixel(r, axis, band.start + *k as u32, i) as i32 - l.value as i32).abs() > 20)
                .count()
                >= need
        })
    }

    /// Confidence of a cut at `band` of trimmed rectangle `r` (see the module doc).
    fn band_confidence(&self, r: Rect, axis: Axis, lines: &[Line], band: Band) -> Confidence {
        let len = lines.len() as u32;
        let band_lines = &lines[band.start as usize..band.end as usize];
        // A gutter has a line crossed by nothing; a gap between bars has the axis through it.
        let across = band_lines.first().map(|_| match axis {
            Axis::Rows => r.width(),
            Axis::Cols => r.height(),
        }).unwrap_or(1);
        if self.crossed(r, axis, band, band_lines, across) {
            return Confidence { strong: false, value: 0.0 };
        }
        // A full-length step between two flat levels inside the band (a black gutter beside a
        // white chart background) is a straight panel edge too.
        let step = band_lines.windows(2).any(|w| (w[0].value as i32 - w[1].value as i32).abs() > 2 * EDGE_CONTRAST);
        let step = if step { 1.0 } else { 0.0 };
        let before = self.straightness(r, axis, len, band.start, -1).max(step);
        let after = self.straightness(r, axis, len, band.end - 1, 1).max(step);
        let straightness = before.min(after);
        let clean = band_lines.iter().map(|l| l.clean).sum::<f32>() / band_lines.len() as f32;
        let cleanliness = ((clean - 0.9) / 0.1).clamp(0.0, 1.0);
        if straightness >= MIN_STRAIGHTNESS {
            Confidence { strong: true, value: 0.5 + 0.3 * straightness + 0.2 * cleanliness }
        } else {
            Confidence { strong: false, value: 0.2 + 0.3 * straightness + 0.1 * cleanliness }
        }
    }

    /// The accepted cut of `r` along `axis`, if any: with strong bands only, or (`weak`) with
    /// every clean band.
    fn cut(&mut self, r: Rect, axis: Axis, lines: &[Line], weak: bool) -> Option<Cut> {
        let all = bands_of(lines);
        if all.is_empty() {
            return None;
        }
        let len = lines.len() as u32;
        let mut bands = Vec::new();
        let mut conf_of = Vec::new();
        for b in all {
            let c = self.band_confidence(r, axis, lines, b);
            if c.strong || (weak && c.value > 0.0) {
                bands.push(b);
                conf_of.push((b.start, c.value));
            } else {
                self.best_rejected = self.best_rejected.max(c.value);
            }
        }
        loop {
            if bands.is_empty() {
                let best = conf_of.iter().map(|&(_, c)| c).fold(0f32, f32::max);
                self.best_rejected = self.best_rejected.max(best);
                return None;
            }
            let mut bounds = vec![(0u32, bands[0].start)];
            for pair in bands.windows(2) {
                bounds.push((pair[0].end, pair[1].start));
            }
            bounds.push((bands[bands.len() - 1].end, len));
            let largest = bounds.iter().map(|&(a, b)| b - a).max().unwrap_or(0);
            let min_len = (MIN_PART_PX as f32).max(MIN_PART_FRACTION * len as f32).max(MIN_PART_OF_LARGEST * largest as f32);
            // Smallest geometrically invalid part first, then content checks.
            let too_small = bounds.iter().enumerate().filter(|(_, &(a, b))| ((b - a) as f32) < min_len).min_by_key(|(_, &(a, b))| b - a).map(|(i, _)| i);
            let bad = too_small.or_else(|| {
                bounds.iter().position(|&(a, b)| !self.is_panel(Self::sub(r, axis, a, b), axis))
            });
            let Some(i) = bad else {
                let confidence = bands.iter().map(|b| conf_of.iter().find(|(s, _)| *s == b.start).map(|&(_, c)| c).unwrap_or(0.0)).fold(0f32, f32::max);
                let parts = bounds.iter().map(|&(a, b)| Self::sub(r, axis, a, b)).collect();
                return Some(Cut { axis, parts, confidence });
            };
            // Merge part i into a neighbour: drop the thinner adjacent band.
            let left = i.checked_sub(1);
            let right = (i < bands.len()).then_some(i);
            let drop = match (left, right) {
                (Some(l), Some(rr)) => {
                    if bands[l].end - bands[l].start <= bands[rr].end - bands[rr].start { l } else { rr }
                }
                (Some(l), None) => l,
                (None, Some(rr)) => rr,
                (None, None) => unreachable!("a part always has a band beside it while bands remain"),
            };
            let removed = bands.remove(drop);
            // A band dropped for a trivial part still counts as a rejected candidate.
            if let Some(pos) = conf_of.iter().position(|(s, _)| *s == removed.start) {
                let (_, c) = conf_of.remove(pos);
                self.best_rejected = self.best_rejected.max(c);
            }
        }
    }

    /// Does `part` look like a panel: content over most of it, not mostly blank lines?
    fn is_panel(&self, part: Rect, axis: Axis) -> bool {
        let Some((t, rows, cols)) = self.gray.trim(part) else { return false };
        if t.width() < 8 || t.height() < 8 || (t.area() as f32) < MIN_CONTENT_FILL * part.area() as f32 {
            return false;
        }
        let lines = if axis == Axis::Rows { &rows } else { &cols };
        let blank = lines.iter().filter(|l| l.uniform).count() as f32 / lines.len() as f32;
        blank <= MAX_BLANK_FRACTION
    }

    fn split(&mut self, r: Rect, depth: u32) {
        let Some((t, rows, cols)) = self.gray.trim(r) else { return };
        if depth >= MAX_DEPTH || t.width() < 2 * MIN_PART_PX || t.height() < 2 * MIN_PART_PX {
            self.panels.push(t);
            return;
        }
        let mut chosen = None;
        // Strong cuts split panels at any depth; weak ones (clean gutters between charts, whose
        // edges are text) only the whole figure, and count for little without panel letters.
        for weak in [false, true] {
            if weak && depth > 0 {
                break;
            }
            let by_rows = self.cut(t, Axis::Rows, &rows, weak);
            let by_cols = self.cut(t, Axis::Cols, &cols, weak);
            chosen = match (by_rows, by_cols) {
                (Some(a), Some(b)) => Some(if b.confidence > a.confidence { b } else { a }),
                (a, b) => a.or(b),
            };
            if chosen.is_some() {
                break;
            }
        }
        match chosen {
            Some(cut) => {
                let _ = cut.axis;
                self.cuts.push(cut.confidence);
                for part in cut.parts {
                    self.split(part, depth + 1);
                }
            }
            None => self.panels.push(t),
        }
    }

    /// A small isolated high-contrast letter-like blob in a top corner of `p`?
    fn has_letter(&self, p: Rect) -> bool {
        let side = p.width().min(p.height());
        let (ww, wh) = ((p.width() / 4).max(12).min(p.width()), (p.height() / 4).max(12).min(p.height()));
        let corners = [Rect { x0: p.x0, y0: p.y0, x1: p.x0 + ww, y1: p.y0 + wh }, Rect { x0: p.x1 - ww, y0: p.y0, x1: p.x1, y1: p.y0 + wh }];
        corners.iter().any(|&c| self.letter_in(c, side))
    }

    fn letter_in(&self, c: Rect, side: u32) -> bool {
        let (w, h) = (c.width() as usize, c.height() as usize);
        let mut hist = [0u32; 32];
        for y in c.y0..c.y1 {
            for &v in self.gray.row(y, c.x0, c.x1) {
                hist[(v >> 3) as usize] += 1;
            }
        }
        let mode = (0..32).max_by_key(|&b| hist[b]).unwrap_or(0);
        let bg = (mode * 8 + 4) as i32;
        let fg: Vec<bool> = (c.y0..c.y1).flat_map(|y| self.gray.row(y, c.x0, c.x1).iter().map(move |&v| (v as i32 - bg).abs() > 60)).collect();
        let near_bg: Vec<bool> = (c.y0..c.y1).flat_map(|y| self.gray.row(y, c.x0, c.x1).iter().map(move |&v| (v as i32 - bg).abs() <= 30)).collect();
        let mut label = vec![0u32; w * h];
        let mut next = 0u32;
        let min_h = (0.03 * side as f32).max(5.0) as usize;
        let max_h = ((0.2 * side as f32) as usize).min(h * 3 / 5).max(min_h);
        let mut stack = Vec::new();
        for start in 0..w * h {
            if !fg[start] || label[start] != 0 {
                continue;
            }
            next += 1;
            let (mut xmin, mut xmax, mut ymin, mut ymax, mut area) = (w, 0, h, 0, 0usize);
            label[start] = next;
            stack.push(start);
            while let Some(i) = stack.pop() {
                let (x, y) = (i % w, i / w);
                area += 1;
                xmin = xmin.min(x);
                xmax = xmax.max(x);
                ymin = ymin.min(y);
                ymax = ymax.max(y);
                if area > max_h * max_h * 2 {
                    continue; // too big to be a letter; keep flooding to label it
                }
                let mut push = |j: usize| {
                    if fg[j] && label[j] == 0 {
                        label[j] = next;
                        stack.push(j);
                    }
                };
                if x > 0 {
                    push(i - 1);
                }
                if x + 1 < w {
                    push(i + 1);
                }
                if y > 0 {
                    push(i - w);
                }
                if y + 1 < h {
                    push(i + w);
                }
            }
            let (bw, bh) = (xmax + 1 - xmin, ymax + 1 - ymin);
            if bh < min_h || bh > max_h {
                continue;
            }
            let aspect = bw as f32 / bh as f32;
            let fill = area as f32 / (bw * bh) as f32;
            if !(0.25..=1.6).contains(&aspect) || !(0.15..=0.85).contains(&fill) {
                continue;
            }
            // Isolated on a plain background: a ring around the box free of other ink.
            let m = (bh / 4).max(2);
            let (rx0, ry0) = (xmin.saturating_sub(m), ymin.saturating_sub(m));
            let (rx1, ry1) = ((xmax + 1 + m).min(w), (ymax + 1 + m).min(h));
            let (mut ring, mut plain) = (0usize, 0usize);
            for y in ry0..ry1 {
                for x in rx0..rx1 {
                    if x >= xmin && x <= xmax && y >= ymin && y <= ymax {
                        continue;
                    }
                    ring += 1;
                    plain += near_bg[y * w + x] as usize;
                }
            }
            if ring > 0 && plain * 100 >= ring * 95 {
                return true;
            }
        }
        false
    }
}

/// The layout of a gray image already at working size.
pub fn analyze_gray(gray: &[u8], width: u32, height: u32) -> Layout {
    let full = Rect { x0: 0, y0: 0, x1: width, y1: height };
    if width < 2 * MIN_PART_PX || height < 2 * MIN_PART_PX {
        return Layout { score: 0.0, panel_count: 1, panels: vec![full], letters: 0 };
    }
    let mut columns = vec![0u8; gray.len()];
    for (y, row) in gray.chunks_exact(width as usize).enumerate() {
        for (x, &v) in row.iter().enumerate() {
            columns[x * height as usize + y] = v;
        }
    }
    let mut d = Detector { gray: Gray { data: gray, width, columns, height }, cuts: Vec::new(), best_rejected: 0.0, panels: Vec::new() };
    d.split(full, 0);
    if d.panels.is_empty() {
        d.panels.push(full); // blank image
    }
    let panel_count = d.panels.len() as u32;
    let letters = if panel_count >= 2 { d.panels.iter().filter(|&&p| d.has_letter(p)).count() as u32 } else { 0 };
    let score = if panel_count >= 2 {
        let c = d.cuts.iter().copied().fold(0f32, f32::max);
        let l = letters as f32 / panel_count as f32;
        1.0 - (1.0 - c) * (1.0 - 0.6 * l)
    } else {
        0.4 * d.best_rejected
    };
    Layout { score: score.clamp(0.0, 1.0), panel_count, panels: d.panels, letters }
}

/// The layout of decoded pixels (gray or RGB, any size): reduced to ≤ [`MAX_SIDE`] px a side,
/// panels reported in the input's coordinates.
pub fn analyze(src: &Pixels) -> Layout {
    let factor = src.width.max(src.height).div_ceil(MAX_SIDE).max(1);
    let gray = to_gray(src);
    let (gray, w, h) = if factor > 1 { box_reduce_gray(&gray, src.width, src.height, factor) } else { (gray, src.width, src.height) };
    let mut layout = analyze_gray(&gray, w, h);
    for p in &mut layout.panels {
        *p = Rect {
            x0: (p.x0 * factor).min(src.width),
            y0: (p.y0 * factor).min(src.height),
            x1: (p.x1 * factor).min(src.width),
            y1: (p.y1 * factor).min(src.height),
        };
    }
    layout
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic textured "image" (like a radiograph: smooth gradient plus noise).
    fn texture(w: u32, h: u32, seed: u32) -> Vec<u8> {
        let mut s = seed.wrapping_mul(2_654_435_761).max(1);
        (0..w * h)
            .map(|i| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                let (x, y) = (i % w, i / w);
                let base = 60 + (120 * x / w) as i32 + (50 * y / h) as i32;
                (base + (s % 60) as i32 - 30).clamp(0, 255) as u8
            })
            .collect()
    }

    fn grid(rows: u32, cols: u32, panel: u32, gutter: u32, margin: u32, bg: u8) -> (Vec<u8>, u32, u32) {
        let w = 2 * margin + cols * panel + (cols - 1) * gutter;
        let h = 2 * margin + rows * panel + (rows - 1) * gutter;
        let mut img = vec![bg; (w * h) as usize];
        for r in 0..rows {
            for c in 0..cols {
                let t = texture(panel, panel, r * cols + c + 1);
                let (x0, y0) = (margin + c * (panel + gutter), margin + r * (panel + gutter));
                for y in 0..panel {
                    let dst = ((y0 + y) * w + x0) as usize;
                    img[dst..dst + panel as usize].copy_from_slice(&t[(y * panel) as usize..((y + 1) * panel) as usize]);
                }
            }
        }
        (img, w, h)
    }

    #[test]
    fn white_gutter_grid_is_compound() {
        let (img, w, h) = grid(2, 3, 120, 6, 10, 255);
        let l = analyze_gray(&img, w, h);
        assert_eq!(l.panel_count, 6, "{l:?}");
        assert!(l.score > 0.8, "{l:?}");
    }

    #[test]
    fn black_gutter_grid_is_compound() {
        let (img, w, h) = grid(3, 3, 90, 3, 0, 0);
        let l = analyze_gray(&img, w, h);
        assert_eq!(l.panel_count, 9, "{l:?}");
        assert!(l.score > 0.8, "{l:?}");
    }

    #[test]
    fn single_image_with_border_is_single() {
        let (img, w, h) = grid(1, 1, 300, 0, 25, 0);
        let l = analyze_gray(&img, w, h);
        assert_eq!(l.panel_count, 1, "{l:?}");
        assert!(l.score < 0.4, "{l:?}");
    }

    #[test]
    fn blank_and_tiny_images_are_single() {
        assert_eq!(analyze_gray(&vec![255; 100 * 80], 100, 80).panel_count, 1);
        assert_eq!(analyze_gray(&[7; 10 * 10], 10, 10).panel_count, 1);
    }

    #[test]
    fn panels_come_back_in_input_coordinates() {
        let (img, w, h) = grid(1, 2, 600, 20, 0, 255);
        let l = analyze(&Pixels { width: w, height: h, channels: 1, data: img });
        assert_eq!(l.panel_count, 2, "{l:?}");
        assert!(l.panels.iter().all(|p| p.x1 <= w && p.y1 <= h && p.width() > 500), "{l:?}");
    }

    #[test]
    fn cost_is_small() {
        let (img, w, h) = grid(3, 3, 160, 8, 10, 255);
        let pixels = Pixels { width: w, height: h, channels: 1, data: img };
        let start = std::time::Instant::now();
        let n = 20;
        for _ in 0..n {
            assert_eq!(analyze(&pixels).panel_count, 9);
        }
        let ms = start.elapsed().as_secs_f64() * 1000.0 / n as f64;
        eprintln!("layout of a {w}x{h} 3x3 grid: {ms:.2} ms");
        assert!(ms < 50.0, "{ms} ms");
    }
}
