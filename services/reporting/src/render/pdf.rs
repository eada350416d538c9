//! A small PDF layout engine on `pdf-writer`: A4 pages with headings, paragraphs (wrapped),
//! tables and bar charts, in DejaVu Sans embedded as a CID TrueType font (Identity-H), so
//! Kazakh and Russian letters show and can be copied out (ToUnicode map). Pure: bytes in
//! memory, no I/O.

use std::collections::BTreeMap;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str};

pub const FONT: &[u8] = include_bytes!("../../data/DejaVuSans.ttf");

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 50.0;

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("font: {0}")]
    Font(String),
}

/// One table cell alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

pub struct Layout<'f> {
    face: ttf_parser::Face<'f>,
    units: f32,
    pages: Vec<Content>,
    y: f32,
    used: BTreeMap<u16, char>,
    title: String,
}

impl Layout<'static> {
    pub fn new(title: &str) -> Result<Layout<'static>, PdfError> {
        let face = ttf_parser::Face::parse(FONT, 0).map_err(|e| PdfError::Font(e.to_string()))?;
        let units = f32::from(face.units_per_em());
        let mut l = Layout {
            face,
            units,
            pages: Vec::new(),
            y: 0.0,
            used: BTreeMap::new(),
            title: title.to_owned(),
        };
        l.new_page();
        Ok(l)
    }
}

impl<'f> Layout<'f> {
    fn new_page(&mut self) {
        self.pages.push(Content::new());
        self.y = PAGE_H - MARGIN;
    }

    fn page(&mut self) -> &mut Content {
        self.pages.last_mut().expect("a page exists")
    }

    /// Makes room for `height` points, starting a new page when needed.
    fn room(&mut self, height: f32) {
        if self.y - height < MARGIN {
            self.new_page();
        }
    }

    fn glyphs(&mut self, text: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let gid = self.face.glyph_index(c).map(|g| g.0).unwrap_or(0);
            self.used.entry(gid).or_insert(c);
            out.extend_from_slice(&gid.to_be_bytes());
        }
        out
    }

    pub fn width(&self, text: &str, size: f32) -> f32 {
        text.chars()
            .map(|c| {
                self.face
                    .glyph_index(c)
                    .and_then(|g| self.face.glyph_hor_advance(g))
                    .unwrap_or(500) as f32
            })
            .sum::<f32>()
            * size
            / self.units
    }

    fn text_at(&mut self, x: f32, y: f32, size: f32, text: &str) {
        let encoded = self.glyphs(text);
        let page = self.page();
        page.begin_text();
        page.set_font(Name(b"F1"), size);
        page.next_line(x, y);
        page.show(Str(&encoded));
        page.end_text();
    }

    /// Cuts `text` to fit `max` points, with an ellipsis.
    fn fit(&self, text: &str, size: f32, max: f32) -> String {
        if self.width(text, size) <= max {
            return text.to_owned();
        }
        let mut out = String::new();
        for c in text.chars() {
            if self.width(&format!("{out}{c}…"), size) > max {
                break;
            }
            out.push(c);
        }
        out.push('…');
        out
    }

    fn wrap(&self, text: &str, size: f32, max: f32) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if self.width(&candidate, size) > max && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                line = word.to_owned();
            } else {
                line = candidate;
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }

    pub fn heading(&mut self, text: &str, size: f32) {
        let lines = self.wrap(text, size, PAGE_W - 2.0 * MARGIN);
        self.room(size * 1.4 * lines.len() as f32 + size);
        self.y -= size * 0.6;
        for line in lines {
            self.y -= size * 1.3;
            self.text_at(MARGIN, self.y, size, &line);
        }
        self.y -= size * 0.5;
    }

    pub fn paragraph(&mut self, text: &str, size: f32) {
        for line in self.wrap(text, size, PAGE_W - 2.0 * MARGIN) {
            self.room(size * 1.4);
            self.y -= size * 1.4;
            self.text_at(MARGIN, self.y, size, &line);
        }
        self.y -= size * 0.6;
    }

    fn table_header(&mut self, headers: &[&str], cols: &[f32], size: f32, row_h: f32) {
        let total: f32 = cols.iter().sum();
        self.room(row_h * 2.0);
        self.y -= row_h;
        let y = self.y;
        let page = self.page();
        page.set_fill_rgb(0.86, 0.90, 0.95);
        page.rect(MARGIN, y - 3.0, total, row_h);
        page.fill_nonzero();
        page.set_fill_gray(0.0);
        let mut x = MARGIN;
        for (i, h) in headers.iter().enumerate().take(cols.len()) {
            let text = self.fit(h, size, cols[i] - 4.0);
            self.text_at(x + 2.0, y, size, &text);
            x += cols[i];
        }
    }

    /// A table; `widths` are fractions of the text width.
    pub fn table(
        &mut self,
        headers: &[&str],
        rows: &[Vec<String>],
        widths: &[f32],
        align: &[Align],
    ) {
        let size = 8.0;
        let row_h = 13.0;
        let total = PAGE_W - 2.0 * MARGIN;
        let cols: Vec<f32> = widths.iter().map(|w| w * total).collect();
        self.table_header(headers, &cols, size, row_h);
        for (n, row) in rows.iter().enumerate() {
            if self.y - row_h < MARGIN {
                self.new_page();
                self.table_header(headers, &cols, size, row_h);
            }
            self.y -= row_h;
            if n % 2 == 1 {
                let y = self.y;
                let page = self.page();
                page.set_fill_rgb(0.96, 0.96, 0.96);
                page.rect(MARGIN, y - 3.0, total, row_h);
                page.fill_nonzero();
                page.set_fill_gray(0.0);
            }
            let mut x = MARGIN;
            for (i, cell) in row.iter().enumerate().take(cols.len()) {
                let text = self.fit(cell, size, cols[i] - 4.0);
                let tx = match align.get(i).copied().unwrap_or(Align::Left) {
                    Align::Left => x + 2.0,
                    Align::Right => x + cols[i] - 2.0 - self.width(&text, size),
                };
                self.text_at(tx, self.y, size, &text);
                x += cols[i];
            }
        }
        self.y -= 10.0;
    }

    /// Horizontal bars, one per item, scaled to the largest value.
    pub fn bar_chart(&mut self, items: &[(String, u64)]) {
        if items.is_empty() {
            return;
        }
        let size = 8.0;
        let bar_h = 11.0;
        let label_w = 170.0;
        let max = items.iter().map(|(_, v)| *v).max().unwrap_or(1).max(1) as f32;
        let span = PAGE_W - 2.0 * MARGIN - label_w - 50.0;
        for (label, value) in items {
            self.room(bar_h + 4.0);
            self.y -= bar_h + 3.0;
            let text = self.fit(label, size, label_w - 6.0);
            self.text_at(MARGIN, self.y + 2.0, size, &text);
            let w = (*value as f32 / max * span).max(0.5);
            let y = self.y;
            let page = self.page();
            page.set_fill_rgb(0.16, 0.42, 0.70);
            page.rect(MARGIN + label_w, y, w, bar_h - 2.0);
            page.fill_nonzero();
            page.set_fill_gray(0.0);
            self.text_at(
                MARGIN + label_w + w + 4.0,
                y + 2.0,
                size,
                &value.to_string(),
            );
        }
        self.y -= 10.0;
    }

    /// The finished document.
    pub fn finish(mut self) -> Vec<u8> {
        let page_count = self.pages.len();
        // Page footers: title and page number.
        for i in 0..page_count {
            let footer = format!("{} — {}/{}", self.title, i + 1, page_count);
            let encoded = self.glyphs(&footer);
            let page = &mut self.pages[i];
            page.begin_text();
            page.set_font(Name(b"F1"), 7.0);
            page.set_fill_gray(0.4);
            page.next_line(MARGIN, MARGIN - 25.0);
            page.show(Str(&encoded));
            page.end_text();
        }
        let catalog = Ref::new(1);
        let tree = Ref::new(2);
        let type0 = Ref::new(3);
        let cid = Ref::new(4);
        let descriptor = Ref::new(5);
        let font_file = Ref::new(6);
        let cmap = Ref::new(7);
        let info = Ref::new(8);
        let first_page = 10;
        let mut pdf = Pdf::new();
        pdf.catalog(catalog).pages(tree);
        let page_refs: Vec<Ref> = (0..page_count)
            .map(|i| Ref::new(first_page + 2 * i as i32))
            .collect();
        pdf.pages(tree)
            .kids(page_refs.iter().copied())
            .count(page_count as i32);
        pdf.document_info(info)
            .title(pdf_writer::TextStr(&self.title))
            .producer(pdf_writer::TextStr("Bakylau reporting"));
        let contents: Vec<Content> = std::mem::take(&mut self.pages);
        for (i, content) in contents.into_iter().enumerate() {
            let page_ref = page_refs[i];
            let content_ref = Ref::new(page_ref.get() + 1);
            let mut page = pdf.page(page_ref);
            page.parent(tree)
                .media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
                .contents(content_ref);
            page.resources().fonts().pair(Name(b"F1"), type0);
            page.finish();
            let data = content.finish();
            let packed = miniz_oxide::deflate::compress_to_vec_zlib(&data, 6);
            pdf.stream(content_ref, &packed).filter(Filter::FlateDecode);
        }
        let base = Name(b"DejaVuSans");
        let system = SystemInfo {
            registry: Str(b"Adobe"),
            ordering: Str(b"Identity"),
            supplement: 0,
        };
        pdf.type0_font(type0)
            .base_font(base)
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid)
            .to_unicode(cmap);
        let scale = 1000.0 / self.units;
        {
            let mut font = pdf.cid_font(cid);
            font.subtype(CidFontType::Type2)
                .base_font(base)
                .system_info(system)
                .font_descriptor(descriptor)
                .default_width(600.0)
                .cid_to_gid_map_predefined(Name(b"Identity"));
            let mut widths = font.widths();
            for gid in self.used.keys() {
                let w = self
                    .face
                    .glyph_hor_advance(ttf_parser::GlyphId(*gid))
                    .unwrap_or(0) as f32
                    * scale;
                widths.consecutive(*gid, [w]);
            }
        }
        let bbox = self.face.global_bounding_box();
        pdf.font_descriptor(descriptor)
            .name(base)
            .flags(FontFlags::NON_SYMBOLIC)
            .bbox(Rect::new(
                f32::from(bbox.x_min) * scale,
                f32::from(bbox.y_min) * scale,
                f32::from(bbox.x_max) * scale,
                f32::from(bbox.y_max) * scale,
            ))
            .italic_angle(0.0)
            .ascent(f32::from(self.face.ascender()) * scale)
            .descent(f32::from(self.face.descender()) * scale)
            .cap_height(f32::from(self.face.capital_height().unwrap_or(700)) * scale)
            .stem_v(80.0)
            .font_file2(font_file);
        let packed_font = miniz_oxide::deflate::compress_to_vec_zlib(FONT, 6);
        pdf.stream(font_file, &packed_font)
            .filter(Filter::FlateDecode)
            .pair(Name(b"Length1"), FONT.len() as i32);
        let mut unicode = UnicodeCmap::new(Name(b"Bakylau-UTF16"), system);
        for (gid, c) in &self.used {
            unicode.pair(*gid, *c);
        }
        pdf.cmap(cmap, &unicode.finish());
        pdf.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_with_kazakh_text_tables_and_charts_is_a_pdf() {
        let mut l = Layout::new("Сынақ").unwrap();
        l.heading("Жартыжылдық есеп: әғқңөұүһі", 16.0);
        l.paragraph(&"Өтініштер саны артты. ".repeat(40), 10.0);
        let rows: Vec<Vec<String>> = (0..120)
            .map(|i| vec![format!("Аудан {i}"), i.to_string()])
            .collect();
        l.table(
            &["Аудан", "Саны"],
            &rows,
            &[0.7, 0.3],
            &[Align::Left, Align::Right],
        );
        l.bar_chart(&[("Жол".into(), 10), ("Су".into(), 4)]);
        let bytes = l.finish();
        assert!(bytes.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("/Identity-H"));
        assert!(
            text.contains("/Count 4") || text.contains("/Count 3"),
            "several pages"
        );
        assert!(text.trim_end().ends_with("%%EOF"));
    }

    #[test]
    fn wrapping_keeps_lines_inside_the_width() {
        let l = Layout::new("t").unwrap();
        let lines = l.wrap(&"сөз ".repeat(100), 10.0, 200.0);
        assert!(lines.len() > 5);
        assert!(lines.iter().all(|line| l.width(line, 10.0) <= 200.0));
    }
}
