//! JATS article XML → ids, year, licence and figures.
//!
//! Safety: the DOCTYPE (and any internal subset) is cut out before parsing and every entity
//! reference other than XML's five predefined ones is kept as literal text, so no DTD is ever
//! loaded, no entity is ever expanded (billion laughs, XXE) and nothing touches the network.

use roxmltree::{Document, Node, NodeType, ParsingOptions};

const XLINK_NS: &str = "http://www.w3.org/1999/xlink";

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Article {
    pub pmcid: Option<String>,
    pub pmid: Option<String>,
    pub doi: Option<String>,
    pub year: Option<i32>,
    pub license: Option<&'static str>,
    /// Which markup the licence was read from: `xlink_href`, `ali_license_ref`, `license_type`, `license_p`.
    pub license_source: Option<&'static str>,
    /// The URL or words the licence was read from, as written.
    pub license_raw: Option<String>,
    pub title: Option<String>,
    pub journal: Option<String>,
    /// Authors as `Surname Initials`, joined by `; ` (for licence attribution).
    pub authors: Option<String>,
    pub figures: Vec<Figure>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figure {
    pub id: Option<String>,
    pub label: Option<String>,
    pub caption: String,
    /// Every `<graphic xlink:href>` of the fig, in document order.
    pub graphics: Vec<String>,
    /// Set when the label or caption holds text the bytes did not encode faithfully (see
    /// [`decode_xml`]): the caption is not to be trusted.
    pub encoding_error: Option<String>,
}

/// Nodes a document may hold; a real article has a few hundred thousand at most.
const MAX_NODES: u32 = 5_000_000;

pub fn parse_article(xml: &[u8]) -> Result<Article, String> {
    let (text, problem) = decode_xml(xml)?;
    let no_dtd = strip_doctype(&text);
    let safe = neutralise_entities(&no_dtd);
    let options = ParsingOptions { allow_dtd: false, nodes_limit: MAX_NODES, ..ParsingOptions::default() };
    let doc = Document::parse_with_options(&safe, options).map_err(|e| e.to_string())?;
    let root = doc.root_element();
    let meta = root.descendants().find(|n| n.has_tag_name("article-meta"));
    let mut article = Article::default();
    if let Some(meta) = meta {
        read_ids(meta, &mut article);
        article.year = read_year(meta);
        article.title = first_text(meta, "article-title");
        article.authors = read_authors(meta);
        if let Some((license, source, raw)) = read_license(meta) {
            article.license = license;
            article.license_source = Some(source);
            article.license_raw = Some(raw);
        }
    }
    article.journal = root
        .descendants()
        .find(|n| n.has_tag_name("journal-meta"))
        .and_then(|jm| first_text(jm, "journal-title").or_else(|| first_text(jm, "journal-id")));
    article.figures = read_figures(root);
    if let Some(problem) = problem {
        for figure in &mut article.figures {
            let texts = [figure.caption.as_str(), figure.label.as_deref().unwrap_or("")];
            let affected = match problem.kind {
                Problem::Malformed => texts.iter().any(|t| t.contains('\u{FFFD}')),
                Problem::Utf8Declared => texts.iter().any(|t| !t.is_ascii()),
            };
            if affected {
                figure.encoding_error = Some(problem.message.clone());
            }
        }
    }
    Ok(article)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Problem {
    /// Byte sequences invalid in the encoding used: replaced by U+FFFD.
    Malformed,
    /// A single-byte encoding was declared but the bytes are UTF-8 (non-ASCII text is mojibake).
    Utf8Declared,
}

#[derive(Debug, Clone)]
struct EncodingProblem {
    kind: Problem,
    message: String,
}

/// The `encoding` pseudo-attribute of a leading `<?xml ...?>` declaration.
fn declared_encoding(xml: &[u8]) -> Option<String> {
    let head = &xml[..xml.len().min(1024)];
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&head[..end]).ok()?;
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..].trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|q| *q == '"' || *q == '\'')?;
    let value = rest[1..].split(quote).next()?;
    Some(value.trim().to_string())
}

/// The document's text, as XML reads it: a byte-order mark first, then the declaration's
/// `encoding`, then UTF-8. Unknown encodings are an error (`bad_xml`); bytes that are not valid
/// in the encoding used come back as U+FFFD with a problem to report.
fn decode_xml(xml: &[u8]) -> Result<(std::borrow::Cow<'_, str>, Option<EncodingProblem>), String> {
    use encoding_rs::{Encoding, UTF_8};
    if let Some((encoding, bom)) = Encoding::for_bom(xml) {
        let (text, had_errors) = encoding.decode_without_bom_handling(&xml[bom..]);
        let problem = had_errors.then(|| EncodingProblem {
            kind: Problem::Malformed,
            message: format!("bytes that are not valid {} (byte-order mark) were replaced", encoding.name()),
        });
        return Ok((text, problem));
    }
    let declared = declared_encoding(xml);
    let encoding = match &declared {
        None => UTF_8,
        Some(label) => Encoding::for_label(label.as_bytes())
            .ok_or_else(|| format!("the XML declaration names an unknown encoding {label:?}"))?,
    };
    // A declaration readable as ASCII rules out UTF-16 without a byte-order mark.
    let encoding = encoding.output_encoding();
    let name = declared.as_deref().unwrap_or("UTF-8 (no encoding declared)");
    if encoding == UTF_8 {
        return Ok(match std::str::from_utf8(xml) {
            Ok(text) => (text.into(), None),
            Err(e) => {
                let message = format!(
                    "the bytes are not valid {name}: byte 0x{:02X} at offset {} (and any like it) replaced",
                    xml[e.valid_up_to()],
                    e.valid_up_to()
                );
                (String::from_utf8_lossy(xml), Some(EncodingProblem { kind: Problem::Malformed, message }))
            }
        });
    }
    let (text, _, had_errors) = encoding.decode(xml);
    if had_errors {
        let message = format!("bytes that are not valid {name} were replaced");
        return Ok((text, Some(EncodingProblem { kind: Problem::Malformed, message })));
    }
    let single_byte = encoding.is_single_byte();
    if single_byte && !xml.is_ascii() && std::str::from_utf8(xml).is_ok() {
        let message = format!("declared {name} but the bytes are UTF-8: its non-ASCII text cannot be trusted");
        return Ok((text, Some(EncodingProblem { kind: Problem::Utf8Declared, message })));
    }
    Ok((text, None))
}

/// Removes `<!DOCTYPE ...>` including an internal subset `[...]`.
pub fn strip_doctype(text: &str) -> std::borrow::Cow<'_, str> {
    let Some(start) = text.find("<!DOCTYPE") else { return text.into() };
    let bytes = text.as_bytes();
    let (mut i, mut depth, mut quote) = (start + 9, 0i32, None::<u8>);
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None => match b {
                b'"' | b'\'' => quote = Some(b),
                b'[' => depth += 1,
                b']' => depth -= 1,
                b'>' if depth <= 0 => {
                    let mut out = String::with_capacity(text.len());
                    out.push_str(&text[..start]);
                    out.push_str(&text[i + 1..]);
                    return out.into();
                }
                _ => {}
            },
        }
        i += 1;
    }
    text[..start].to_string().into() // unterminated DOCTYPE: nothing after it is trustworthy
}

/// `&name;` for any name but the five predefined ones becomes the literal text `&name;`.
pub fn neutralise_entities(text: &str) -> std::borrow::Cow<'_, str> {
    const PREDEFINED: [&str; 5] = ["amp;", "lt;", "gt;", "quot;", "apos;"];
    let needs_work = text.match_indices('&').any(|(i, _)| {
        let rest = &text[i + 1..];
        !(rest.starts_with('#') || PREDEFINED.iter().any(|p| rest.starts_with(p)))
    });
    if !needs_work {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 64);
    let mut last = 0;
    for (i, _) in text.match_indices('&') {
        let rest = &text[i + 1..];
        if rest.starts_with('#') || PREDEFINED.iter().any(|p| rest.starts_with(p)) {
            continue;
        }
        out.push_str(&text[last..i]);
        out.push_str("&amp;");
        last = i + 1;
    }
    out.push_str(&text[last..]);
    out.into()
}

fn read_ids(meta: Node, article: &mut Article) {
    for id in meta.children().filter(|n| n.has_tag_name("article-id")) {
        let value = collapse_whitespace(id.text().unwrap_or_default());
        if value.is_empty() {
            continue;
        }
        match id.attribute("pub-id-type") {
            Some("pmc") | Some("pmcid") | Some("pmc-uid") if article.pmcid.is_none() => {
                let digits = value.trim_start_matches("PMC");
                article.pmcid = Some(format!("PMC{digits}"));
            }
            Some("pmid") if article.pmid.is_none() => article.pmid = Some(value),
            Some("doi") if article.doi.is_none() => article.doi = Some(value),
            _ => {}
        }
    }
}

/// The collapsed text of the first `tag` element under `node`, if not empty.
fn first_text(node: Node, tag: &str) -> Option<String> {
    let found = node.descendants().find(|n| n.has_tag_name(tag))?;
    Some(caption_text(found)).filter(|t| !t.is_empty())
}

/// `<contrib contrib-type="author">` names as `Surname Initials` (or a collaboration's name).
fn read_authors(meta: Node) -> Option<String> {
    let names: Vec<String> = meta
        .descendants()
        .filter(|n| n.has_tag_name("contrib") && n.attribute("contrib-type").is_none_or(|t| t == "author"))
        .filter_map(|c| {
            if let Some(name) = c.children().find(|n| n.has_tag_name("name")) {
                let surname = first_text(name, "surname")?;
                let initials: String = first_text(name, "given-names")
                    .unwrap_or_default()
                    .split(|ch: char| ch.is_whitespace() || ch == '-' || ch == '.')
                    .filter_map(|part| part.chars().next())
                    .collect();
                Some(if initials.is_empty() { surname } else { format!("{surname} {initials}") })
            } else {
                first_text(c, "collab")
            }
        })
        .collect();
    Some(names.join("; ")).filter(|s| !s.is_empty())
}

/// Publication year: electronic publication first, then print, then any pub-date.
fn read_year(meta: Node) -> Option<i32> {
    let dates: Vec<Node> = meta.children().filter(|n| n.has_tag_name("pub-date")).collect();
    fn kind<'a>(d: &Node<'a, '_>) -> &'a str {
        d.attribute("pub-type").or_else(|| d.attribute("date-type")).unwrap_or("")
    }
    let preference = ["epub", "pub", "ppub", "epub-ppub", "collection"];
    let chosen = preference
        .iter()
        .find_map(|p| dates.iter().find(|d| kind(d) == *p))
        .or_else(|| dates.first())?;
    let year = chosen.children().find(|n| n.has_tag_name("year"))?.text()?;
    year.trim().parse().ok()
}

type LicenseReading = (Option<&'static str>, &'static str, String);

/// Licence from the most explicit markup present: `xlink:href`, `ali:license_ref`,
/// `@license-type`, then the words of `<license-p>`.
fn read_license(meta: Node) -> Option<LicenseReading> {
    let license = meta.descendants().find(|n| n.has_tag_name("license"))?;
    let mut readings: Vec<LicenseReading> = Vec::new();
    if let Some(href) = xlink_href(license) {
        readings.push((license_from_url(href), "xlink_href", href.to_string()));
    }
    for r in license.descendants().filter(|n| n.is_element() && n.tag_name().name() == "license_ref") {
        let url = collapse_whitespace(&text_content(r));
        readings.push((license_from_url(&url), "ali_license_ref", url));
    }
    if let Some(kind) = license.attribute("license-type") {
        readings.push((license_from_words(kind), "license_type", kind.to_string()));
    }
    let words = license
        .descendants()
        .filter(|n| n.has_tag_name("license-p"))
        .map(|p| caption_text(p))
        .collect::<Vec<_>>()
        .join(" ");
    if !words.is_empty() {
        readings.push((license_from_words(&words), "license_p", words));
    }
    readings
        .iter()
        .find(|r| r.0.is_some())
        .cloned()
        .or_else(|| readings.into_iter().next())
}

/// Maps a Creative Commons URL to the file-list vocabulary.
pub fn license_from_url(url: &str) -> Option<&'static str> {
    let url = url.to_ascii_lowercase();
    if url.contains("publicdomain/zero") {
        return Some("CC0");
    }
    let path = url.split("/licenses/").nth(1)?;
    let code = path.split('/').next()?;
    license_from_code(code)
}

fn license_from_code(code: &str) -> Option<&'static str> {
    match code {
        "by" => Some("CC BY"),
        "by-nc" => Some("CC BY-NC"),
        "by-nc-sa" => Some("CC BY-NC-SA"),
        "by-nc-nd" => Some("CC BY-NC-ND"),
        "by-nd" => Some("CC BY-ND"),
        "by-sa" => Some("CC BY-SA"),
        _ => None,
    }
}

/// A licence as written anywhere (file list, `--licenses`, XML words): `CC-BY`, `cc by 4.0`,
/// `CC BY 4.0 International`, a Creative Commons URL, ... → the file-list vocabulary (`CC BY`,
/// `CC BY-NC`, ..., `CC0`), the way the XML's licences are read. PMC's own `NO-CC CODE` is kept
/// as it is. `None`: the text names no licence we know.
pub fn normalize_license(text: &str) -> Option<&'static str> {
    let text = text.trim();
    if collapse_whitespace(text).eq_ignore_ascii_case("no-cc code") {
        return Some("NO-CC CODE");
    }
    license_from_words(text)
}

/// Reads a licence from free text (`<license-p>`, `@license-type`): "CC BY-NC 4.0",
/// "Creative Commons Attribution-NonCommercial License", "cc-by", ...
pub fn license_from_words(words: &str) -> Option<&'static str> {
    let lower = words.to_ascii_lowercase();
    if let Some(code) = license_from_url(&lower) {
        return Some(code);
    }
    if lower.contains("cc0") || lower.contains("cc zero") || lower.contains("public domain dedication") {
        return Some("CC0");
    }
    let squashed: String = lower.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    // "cc by-nc-nd", "cc-by-nc", "ccby" written as a code
    for (pattern, code) in [
        ("ccbyncsa", "by-nc-sa"),
        ("ccbyncnd", "by-nc-nd"),
        ("ccbync", "by-nc"),
        ("ccbynd", "by-nd"),
        ("ccbysa", "by-sa"),
        ("ccby", "by"),
    ] {
        if squashed.contains(pattern) {
            return license_from_code(code);
        }
    }
    if !(lower.contains("creative commons") || lower.contains("creativecommons")) || !lower.contains("attribution") {
        return None;
    }
    let nc = squashed.contains("noncommercial");
    let nd = squashed.contains("noderiv");
    let sa = squashed.contains("sharealike");
    license_from_code(match (nc, nd, sa) {
        (true, true, _) => "by-nc-nd",
        (true, false, true) => "by-nc-sa",
        (true, false, false) => "by-nc",
        (false, true, _) => "by-nd",
        (false, false, true) => "by-sa",
        (false, false, false) => "by",
    })
}

/// `xlink:href` by namespace, or any attribute whose local name is `href` (documents that
/// forgot the namespace declaration).
fn xlink_href<'a>(node: Node<'a, '_>) -> Option<&'a str> {
    node.attribute((XLINK_NS, "href"))
        .or_else(|| node.attributes().find(|a| a.name() == "href").map(|a| a.value()))
}

/// Every `<fig>` in document order with its own graphics (not those of a nested fig), in one
/// pass over the document (a stack of the figs enclosing the current node, by byte range: linear
/// however deep figs nest).
fn read_figures(root: Node) -> Vec<Figure> {
    let mut figures = Vec::new();
    let mut open: Vec<(usize, usize)> = Vec::new(); // (figure index, end of the fig's bytes)
    for n in root.descendants().filter(|n| n.is_element()) {
        let start = n.range().start;
        while open.last().is_some_and(|&(_, end)| end <= start) {
            open.pop();
        }
        if n.has_tag_name("fig") {
            open.push((figures.len(), n.range().end));
            figures.push(read_figure(n));
        } else if n.has_tag_name("graphic") {
            if let (Some(&(i, _)), Some(href)) = (open.last(), xlink_href(n)) {
                figures[i].graphics.push(href.trim().to_string());
            }
        }
    }
    figures
}

/// A fig's id, label and caption (its graphics come from [`read_figures`]).
fn read_figure(fig: Node) -> Figure {
    let label = fig.children().find(|n| n.has_tag_name("label")).map(|n| caption_text(n));
    let caption = fig.children().find(|n| n.has_tag_name("caption")).map(caption_text).unwrap_or_default();
    Figure { id: fig.attribute("id").map(str::to_string), label, caption, graphics: Vec::new(), encoding_error: None }
}

/// Block elements: their text is separated from its neighbours by a space.
fn is_block(name: &str) -> bool {
    matches!(
        name,
        "title" | "p" | "list" | "list-item" | "def-list" | "def-item" | "term" | "def" | "disp-quote"
            | "sec" | "disp-formula" | "table-wrap" | "break" | "label" | "attrib" | "speech"
    )
}

/// Caption text: blocks joined by a space, inline markup kept as text, LaTeX wrappers removed,
/// whitespace collapsed.
pub fn caption_text(node: Node) -> String {
    let mut out = String::new();
    append_text(node, &mut out);
    collapse_whitespace(&out)
}

/// Walks the subtree with an explicit stack (no recursion on document depth: a caption may nest
/// inline elements a hundred thousand deep).
fn append_text(node: Node, out: &mut String) {
    enum Step<'a, 'input> {
        Visit(Node<'a, 'input>),
        Space,
    }
    let mut stack: Vec<Step> = node.children().rev().map(Step::Visit).collect();
    while let Some(step) = stack.pop() {
        let child = match step {
            Step::Space => {
                out.push(' ');
                continue;
            }
            Step::Visit(child) => child,
        };
        match child.node_type() {
            NodeType::Text => out.push_str(child.text().unwrap_or_default()),
            NodeType::Element => {
                let name = child.tag_name().name();
                if name == "tex-math" {
                    out.push_str(&strip_latex_wrapper(&text_content(child)));
                } else if name == "math" && has_tex_alternative(child) {
                    // <alternatives> holds the same formula twice: keep the TeX one only.
                } else if is_block(name) {
                    out.push(' ');
                    stack.push(Step::Space);
                    stack.extend(child.children().rev().map(Step::Visit));
                } else {
                    stack.extend(child.children().rev().map(Step::Visit));
                }
            }
            _ => {}
        }
    }
}

fn has_tex_alternative(math: Node) -> bool {
    math.parent()
        .filter(|p| p.has_tag_name("alternatives"))
        .map(|p| p.children().any(|c| c.has_tag_name("tex-math")))
        .unwrap_or(false)
}

/// `\documentclass...\begin{document} BODY \end{document}` → `BODY`.
pub fn strip_latex_wrapper(tex: &str) -> String {
    let body = match tex.find("\\begin{document}") {
        Some(i) => &tex[i + "\\begin{document}".len()..],
        None if tex.contains("\\documentclass") => "",
        None => tex,
    };
    let body = body.split("\\end{document}").next().unwrap_or_default();
    collapse_whitespace(body)
}

fn text_content(node: Node) -> String {
    node.descendants().filter(|n| n.is_text()).filter_map(|n| n.text()).collect()
}

pub fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_markup_is_kept_without_spaces_and_blocks_are_separated() {
        let xml = br#"<article xmlns:xlink="http://www.w3.org/1999/xlink"><body><fig id="f1"><label>Figure 1.</label>
            <caption><title>MRI</title><p>CO<sub>2</sub> map of <italic>the</italic> brain (<xref rid="b1">1</xref>).</p></caption>
            <graphic xlink:href="fig1"/></fig></body></article>"#;
        let a = parse_article(xml).unwrap();
        assert_eq!(a.figures[0].caption, "MRI CO2 map of the brain (1).");
        assert_eq!(a.figures[0].label.as_deref(), Some("Figure 1."));
        assert_eq!(a.figures[0].graphics, vec!["fig1".to_string()]);
    }

    #[test]
    fn billion_laughs_is_not_expanded() {
        let xml = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
            <article><body><fig><caption><p>&lol2;</p></caption></fig></body></article>"#;
        let a = parse_article(xml).unwrap();
        assert_eq!(a.figures[0].caption, "&lol2;");
    }

    #[test]
    fn latex_wrapper_is_removed() {
        let tex = r"\documentclass[12pt]{minimal}\usepackage{amsmath}\begin{document}$$\alpha$$\end{document}";
        assert_eq!(strip_latex_wrapper(tex), "$$\\alpha$$");
    }

    #[test]
    fn licence_words_and_urls() {
        assert_eq!(license_from_url("http://creativecommons.org/licenses/by-nc/3.0"), Some("CC BY-NC"));
        assert_eq!(license_from_url("https://creativecommons.org/publicdomain/zero/1.0/"), Some("CC0"));
        assert_eq!(license_from_url("http://creativecommons.org/publicdomain/mark/1.0/"), None);
        assert_eq!(license_from_words("Creative Commons Attribution License"), Some("CC BY"));
        assert_eq!(
            license_from_words("Creative Commons Attribution-NonCommercial-NoDerivatives 4.0 International"),
            Some("CC BY-NC-ND")
        );
        assert_eq!(license_from_words("This article is CC BY-NC-SA 4.0."), Some("CC BY-NC-SA"));
        assert_eq!(license_from_words("open-access"), None);
    }

    #[test]
    fn deep_nesting_is_read_without_recursion() {
        // 100,000 nested inline elements in a caption, and as deep a nest of blocks: a recursive
        // walk overflows the stack (SIGSEGV) long before this.
        let depth = 100_000;
        let mut xml = String::from(r#"<article xmlns:xlink="http://www.w3.org/1999/xlink"><front><article-meta><permissions><license><license-p>"#);
        xml.push_str(&"<italic>".repeat(depth));
        xml.push_str("CC BY 4.0");
        xml.push_str(&"</italic>".repeat(depth));
        xml.push_str(r#"</license-p></license></permissions></article-meta></front><body><fig id="f1"><label>"#);
        xml.push_str(&"<bold>".repeat(depth));
        xml.push_str("Figure 1");
        xml.push_str(&"</bold>".repeat(depth));
        xml.push_str("</label><caption><p>Axial ");
        xml.push_str(&"<italic>".repeat(depth));
        xml.push_str("CT");
        xml.push_str(&"</italic>".repeat(depth));
        xml.push_str(" scan.</p>");
        xml.push_str(&"<p>".repeat(depth));
        xml.push_str("deep");
        xml.push_str(&"</p>".repeat(depth));
        xml.push_str(r#"</caption><graphic xlink:href="f1"/></fig></body></article>"#);
        let run = move || parse_article(xml.as_bytes());
        // A small stack, as worker threads have: only an iterative walk survives it.
        let a = std::thread::Builder::new().stack_size(256 << 10).spawn(run).unwrap().join().unwrap().unwrap();
        assert_eq!(a.figures[0].caption, "Axial CT scan. deep");
        assert_eq!(a.figures[0].label.as_deref(), Some("Figure 1"));
        assert_eq!(a.license, Some("CC BY"));
    }

    #[test]
    fn declared_encodings_are_honoured() {
        let body = "<article><body><fig id=\"f1\"><caption><p>R\u{f6}ntgen \u{b5}m \u{e9}t\u{e9}</p></caption></fig></body></article>";
        for label in ["ISO-8859-1", "windows-1252", "latin1"] {
            let mut xml = format!("<?xml version=\"1.0\" encoding=\"{label}\"?>").into_bytes();
            xml.extend(body.chars().map(|c| c as u32 as u8)); // Latin-1 bytes
            let a = parse_article(&xml).unwrap();
            assert_eq!(a.figures[0].caption, "R\u{f6}ntgen \u{b5}m \u{e9}t\u{e9}", "{label}");
            assert_eq!(a.figures[0].encoding_error, None);
        }
        // UTF-8, declared or not, and UTF-16 with its byte-order mark.
        let utf8 = format!("<?xml version='1.0' encoding='UTF-8'?>{body}");
        assert_eq!(parse_article(utf8.as_bytes()).unwrap().figures[0].caption, "R\u{f6}ntgen \u{b5}m \u{e9}t\u{e9}");
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(format!("<?xml version=\"1.0\" encoding=\"UTF-16\"?>{body}").encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(parse_article(&utf16).unwrap().figures[0].caption, "R\u{f6}ntgen \u{b5}m \u{e9}t\u{e9}");
    }

    #[test]
    fn bytes_that_lie_about_their_encoding_are_reported() {
        let fig = |caption: &str| format!("<fig id=\"f1\"><caption><p>{caption}</p></caption></fig><fig id=\"f2\"><caption><p>plain</p></caption></fig>");
        // Declared Latin-1, written in UTF-8.
        let xml = format!("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><article><body>{}</body></article>", fig("R\u{f6}ntgen"));
        let a = parse_article(xml.as_bytes()).unwrap();
        assert!(a.figures[0].encoding_error.as_deref().unwrap().contains("UTF-8"), "{:?}", a.figures[0]);
        assert_eq!(a.figures[1].encoding_error, None);
        // Declared (or defaulted) UTF-8, written in Latin-1.
        for decl in ["<?xml version=\"1.0\" encoding=\"UTF-8\"?>", ""] {
            let mut xml = format!("{decl}<article><body>").into_bytes();
            xml.extend(fig("R\u{f6}ntgen").chars().map(|c| c as u32 as u8));
            xml.extend(b"</body></article>");
            let a = parse_article(&xml).unwrap();
            assert!(a.figures[0].encoding_error.as_deref().unwrap().contains("0xF6"), "{:?}", a.figures[0]);
            assert_eq!(a.figures[1].encoding_error, None);
        }
        let err = parse_article(b"<?xml version=\"1.0\" encoding=\"klingon-8\"?><article/>").unwrap_err();
        assert!(err.contains("klingon-8"), "{err}");
    }

    #[test]
    fn licence_spellings_normalise_to_the_file_list_vocabulary() {
        for (text, want) in [
            ("CC BY", Some("CC BY")),
            ("CC-BY", Some("CC BY")),
            ("cc by 4.0", Some("CC BY")),
            ("CC BY 4.0 International", Some("CC BY")),
            ("CC-BY-NC", Some("CC BY-NC")),
            (" cc by-nc-nd 3.0 ", Some("CC BY-NC-ND")),
            ("CC0", Some("CC0")),
            ("NO-CC CODE", Some("NO-CC CODE")),
            ("https://creativecommons.org/licenses/by-sa/4.0/", Some("CC BY-SA")),
            ("all rights reserved", None),
            ("", None),
        ] {
            assert_eq!(normalize_license(text), want, "{text:?}");
        }
    }

    #[test]
    fn deeply_nested_figs_are_read_in_linear_time() {
        let depth = 200_000;
        let mut xml = String::from(r#"<article xmlns:xlink="http://www.w3.org/1999/xlink"><body>"#);
        for i in 0..depth {
            xml.push_str(&format!(r#"<fig id="f{i}"><graphic xlink:href="g{i}"/>"#));
        }
        xml.push_str(&"</fig>".repeat(depth));
        xml.push_str(r#"<graphic xlink:href="outside"/><fig id="last"><graphic xlink:href="z"/></fig></body></article>"#);
        let started = std::time::Instant::now();
        let a = parse_article(xml.as_bytes()).unwrap();
        assert_eq!(a.figures.len(), depth + 1);
        assert_eq!(a.figures[depth].graphics, ["z"]);
        assert_eq!(a.figures[depth - 1].graphics, ["g199999"]);
        assert_eq!(a.figures[0].graphics, ["g0"]); // not the nested figs' graphics
        assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
    }
}
