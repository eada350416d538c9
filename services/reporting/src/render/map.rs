//! The problem map (reg 7.2): districts with their counts and top categories, as GeoJSON
//! (points at the district centroids shipped as data; districts without geometry get a
//! null geometry, which GeoJSON allows), as an SVG a head can look at, and as a PNG
//! rasterised from that SVG with resvg and the shipped DejaVu font.

use serde_json::{Value, json};

use super::pdf::FONT;
use super::xml_escape;

#[derive(Debug, Clone, PartialEq)]
pub struct MapCell {
    pub district: String,
    pub name: String,
    pub appeals: u64,
    pub repeated: u64,
    pub collective: u64,
    /// (category code, name, appeals), most first.
    pub top_categories: Vec<(String, String, u64)>,
    /// (lat, lon)
    pub centroid: Option<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MapData {
    pub title: String,
    pub subtitle: String,
    pub appeals_label: String,
    pub cells: Vec<MapCell>,
}

pub fn geojson(map: &MapData) -> String {
    let features: Vec<Value> = map
        .cells
        .iter()
        .map(|c| {
            let geometry = match c.centroid {
                Some((lat, lon)) => json!({"type": "Point", "coordinates": [lon, lat]}),
                None => Value::Null,
            };
            json!({
                "type": "Feature",
                "id": c.district,
                "geometry": geometry,
                "properties": {
                    "district": c.district,
                    "name": c.name,
                    "appeals": c.appeals,
                    "repeated": c.repeated,
                    "collective": c.collective,
                    "top_categories": c.top_categories.iter().map(|(code, name, n)| json!({
                        "category": code, "name": name, "appeals": n
                    })).collect::<Vec<_>>(),
                }
            })
        })
        .collect();
    json!({
        "type": "FeatureCollection",
        "name": map.title,
        "features": features,
    })
    .to_string()
}

const W: f64 = 960.0;
const H: f64 = 640.0;
const MAP_W: f64 = 600.0;

/// Colour from pale yellow (few appeals) to dark red (the most).
fn heat(share: f64) -> String {
    let s = share.clamp(0.0, 1.0);
    let lerp = |a: f64, b: f64| (a + (b - a) * s).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        lerp(253.0, 185.0),
        lerp(230.0, 28.0),
        lerp(138.0, 28.0)
    )
}

/// The image shows the districts that have geometry (the demo region); the others are
/// counted in a footnote and are in the GeoJSON. With no geometry at all, the list shows
/// every district.
pub fn svg(map: &MapData) -> String {
    let located: Vec<&MapCell> = map.cells.iter().filter(|c| c.centroid.is_some()).collect();
    let shown: Vec<&MapCell> = if located.is_empty() {
        map.cells.iter().collect()
    } else {
        located.clone()
    };
    let hidden = map.cells.len() - shown.len();
    let max = shown.iter().map(|c| c.appeals).max().unwrap_or(0).max(1) as f64;
    let mut out = String::new();
    out.push_str(&format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"DejaVu Sans\">\n"
    ));
    out.push_str(&format!(
        "<rect width=\"{W}\" height=\"{H}\" fill=\"#ffffff\"/>\n"
    ));
    out.push_str(&format!(
        "<text x=\"20\" y=\"32\" font-size=\"20\" font-weight=\"bold\" fill=\"#1f2937\">{}</text>\n",
        xml_escape(&map.title)
    ));
    out.push_str(&format!(
        "<text x=\"20\" y=\"54\" font-size=\"13\" fill=\"#4b5563\">{}</text>\n",
        xml_escape(&map.subtitle)
    ));
    out.push_str(&format!(
        "<rect x=\"10\" y=\"70\" width=\"{}\" height=\"{}\" fill=\"#eef4f8\" stroke=\"#c7d2de\" rx=\"6\"/>\n",
        MAP_W,
        H - 80.0
    ));
    if !located.is_empty() {
        let (mut min_lat, mut max_lat, mut min_lon, mut max_lon) =
            (90.0f64, -90.0f64, 180.0f64, -180.0f64);
        for c in &located {
            let (lat, lon) = c.centroid.expect("located");
            min_lat = min_lat.min(lat);
            max_lat = max_lat.max(lat);
            min_lon = min_lon.min(lon);
            max_lon = max_lon.max(lon);
        }
        let k = ((min_lat + max_lat) / 2.0).to_radians().cos();
        let span_x = ((max_lon - min_lon) * k).max(0.01);
        let span_y = (max_lat - min_lat).max(0.01);
        let (area_w, area_h) = (MAP_W - 200.0, H - 80.0 - 100.0);
        let scale = (area_w / span_x).min(area_h / span_y);
        let x0 = 10.0 + 50.0 + (area_w - span_x * scale) / 2.0;
        let y0 = 70.0 + 50.0 + (area_h - span_y * scale) / 2.0;
        let mut sorted = located.clone();
        // Big circles first, so small ones stay visible on top.
        sorted.sort_by(|a, b| b.appeals.cmp(&a.appeals).then(a.district.cmp(&b.district)));
        for c in sorted {
            let (lat, lon) = c.centroid.expect("located");
            let x = x0 + (lon - min_lon) * k * scale;
            let y = y0 + (max_lat - lat) * scale;
            let share = c.appeals as f64 / max;
            let r = 8.0 + 18.0 * share.sqrt();
            out.push_str(&format!(
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r:.1}\" fill=\"{}\" fill-opacity=\"0.85\" stroke=\"#7f1d1d\" stroke-width=\"1\"/>\n",
                heat(share)
            ));
            // Name beside the circle, count inside: close districts stay readable.
            out.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"#111827\">{}</text>\n",
                x + r + 3.0,
                y + 3.0,
                xml_escape(&shorten(&c.name, 24))
            ));
            out.push_str(&format!(
                "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"10\" font-weight=\"bold\" text-anchor=\"middle\" fill=\"#111827\">{}</text>\n",
                y + 3.5,
                c.appeals
            ));
        }
    }
    // The ranked list beside the map.
    let x = MAP_W + 30.0;
    out.push_str(&format!(
        "<text x=\"{x}\" y=\"92\" font-size=\"13\" font-weight=\"bold\" fill=\"#1f2937\">{}</text>\n",
        xml_escape(&map.appeals_label)
    ));
    let mut ranked = shown.clone();
    ranked.sort_by(|a, b| b.appeals.cmp(&a.appeals).then(a.district.cmp(&b.district)));
    for (i, c) in ranked.iter().take(12).enumerate() {
        let y = 116.0 + i as f64 * 42.0;
        let share = c.appeals as f64 / max;
        out.push_str(&format!(
            "<rect x=\"{x}\" y=\"{:.1}\" width=\"{:.1}\" height=\"10\" fill=\"{}\"/>\n",
            y + 6.0,
            (share * 200.0).max(1.0),
            heat(share)
        ));
        out.push_str(&format!(
            "<text x=\"{x}\" y=\"{y:.1}\" font-size=\"11\" fill=\"#111827\">{} — {}</text>\n",
            xml_escape(&shorten(&c.name, 30)),
            c.appeals
        ));
        if let Some((_, top, n)) = c.top_categories.first() {
            out.push_str(&format!(
                "<text x=\"{x}\" y=\"{:.1}\" font-size=\"9\" fill=\"#4b5563\">{} ({n})</text>\n",
                y + 27.0,
                xml_escape(&shorten(top, 48))
            ));
        }
    }
    if hidden > 0 {
        out.push_str(&format!(
            "<text x=\"{x}\" y=\"{:.1}\" font-size=\"9\" fill=\"#6b7280\">+{hidden} (GeoJSON)</text>\n",
            H - 14.0
        ));
    }
    out.push_str("</svg>\n");
    out
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RasterError {
    #[error("svg: {0}")]
    Svg(String),
    #[error("png: {0}")]
    Png(String),
}

/// Rasterises an SVG to PNG with the shipped font.
pub fn png(svg: &str) -> Result<Vec<u8>, RasterError> {
    use resvg::{tiny_skia, usvg};
    let mut opt = usvg::Options {
        font_family: "DejaVu Sans".into(),
        ..Default::default()
    };
    opt.fontdb_mut().load_font_data(FONT.to_vec());
    let tree = usvg::Tree::from_str(svg, &opt).map_err(|e| RasterError::Svg(e.to_string()))?;
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| RasterError::Png("empty image".into()))?;
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    pixmap
        .encode_png()
        .map_err(|e| RasterError::Png(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> MapData {
        MapData {
            title: "Проблемалар картасы".into(),
            subtitle: "2026-01-01 — 2026-06-30".into(),
            appeals_label: "Өтініштер".into(),
            cells: vec![
                MapCell {
                    district: "talgar".into(),
                    name: "Талғар ауданы".into(),
                    appeals: 40,
                    repeated: 3,
                    collective: 2,
                    top_categories: vec![("roads_transport".into(), "Жол & көлік".into(), 20)],
                    centroid: Some((43.3, 77.24)),
                },
                MapCell {
                    district: "kegen".into(),
                    name: "Кеген ауданы".into(),
                    appeals: 5,
                    repeated: 0,
                    collective: 0,
                    top_categories: vec![],
                    centroid: Some((42.98, 79.22)),
                },
                MapCell {
                    district: "elsewhere".into(),
                    name: "elsewhere".into(),
                    appeals: 1,
                    repeated: 0,
                    collective: 0,
                    top_categories: vec![],
                    centroid: None,
                },
            ],
        }
    }

    #[test]
    fn geojson_is_a_feature_collection_with_points_and_counts() {
        let v: Value = serde_json::from_str(&geojson(&sample())).unwrap();
        assert_eq!(v["type"], "FeatureCollection");
        let f = &v["features"][0];
        assert_eq!(f["geometry"]["type"], "Point");
        assert_eq!(f["geometry"]["coordinates"][0], 77.24);
        assert_eq!(f["properties"]["appeals"], 40);
        assert_eq!(
            f["properties"]["top_categories"][0]["category"],
            "roads_transport"
        );
        assert!(v["features"][2]["geometry"].is_null());
    }

    #[test]
    fn svg_is_escaped_and_renders_to_png() {
        let svg = svg(&sample());
        assert!(svg.contains("Жол &amp; көлік"));
        assert!(svg.contains("Талғар ауданы"));
        assert!(
            svg.contains("+1 (GeoJSON)"),
            "the district without geometry is counted"
        );
        let png = png(&svg).unwrap();
        assert!(png.starts_with(&[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]));
    }

    #[test]
    fn heat_runs_from_pale_to_dark() {
        assert_eq!(heat(0.0), "#fde68a");
        assert_eq!(heat(1.0), "#b91c1c");
    }
}
