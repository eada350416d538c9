//! Reference data the reports show: names of districts, bodies and categories (copies of
//! routing's directory and taxonomy), the map geometry of the demo region, and the regions
//! the data generator spreads appeals over. Unknown codes are shown as they are.

use std::collections::HashMap;

use serde::Deserialize;

const BODIES: &str = include_str!("../../data/bodies.toml");
const TAXONOMY: &str = include_str!("../../data/taxonomy.toml");
const GEO: &str = include_str!("../../data/geo.toml");
const REGIONS: &str = include_str!("../../data/regions.toml");

/// Language of display names and of documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    Kk,
    #[default]
    Ru,
    En,
}

impl Lang {
    /// `kk`, `ru`, `en`; empty is Russian. Anything else is `None`.
    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "kk" | "kz" => Some(Lang::Kk),
            "" | "ru" => Some(Lang::Ru),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Kk => "kk",
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Names {
    #[serde(default)]
    pub kk: String,
    #[serde(default)]
    pub ru: String,
    #[serde(default)]
    pub en: String,
}

impl Names {
    pub fn get(&self, lang: Lang) -> &str {
        let s = match lang {
            Lang::Kk => &self.kk,
            Lang::Ru => &self.ru,
            Lang::En => &self.en,
        };
        if s.is_empty() { &self.ru } else { s }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct District {
    pub code: String,
    #[serde(default)]
    pub kind: String,
    pub names: Names,
    #[serde(skip)]
    pub centroid: Option<(f64, f64)>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Body {
    pub code: String,
    pub kind: String,
    pub names: Names,
    #[serde(default)]
    pub district: Option<String>,
    #[serde(default)]
    pub parent: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Category {
    pub code: String,
    pub names: Names,
    #[serde(default)]
    pub leaf: Vec<Leaf>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Leaf {
    pub code: String,
    pub names: Names,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Region {
    pub code: String,
    pub name: String,
    pub districts: u32,
    pub weight: u32,
}

#[derive(Deserialize)]
struct BodiesFile {
    region: RegionHeader,
    district: Vec<District>,
    body: Vec<Body>,
}

#[derive(Deserialize)]
struct RegionHeader {
    code: String,
}

#[derive(Deserialize)]
struct TaxonomyFile {
    category: Vec<Category>,
}

#[derive(Deserialize)]
struct GeoFile {
    district: Vec<GeoDistrict>,
}

#[derive(Deserialize)]
struct GeoDistrict {
    code: String,
    lat: f64,
    lon: f64,
}

#[derive(Deserialize)]
struct RegionsFile {
    region: Vec<Region>,
}

/// Everything the reports look names up in. Built once at start.
#[derive(Debug, Clone)]
pub struct Directory {
    pub demo_region: String,
    pub districts: Vec<District>,
    pub bodies: Vec<Body>,
    pub categories: Vec<Category>,
    pub regions: Vec<Region>,
    district_index: HashMap<String, usize>,
    body_index: HashMap<String, usize>,
    category_names: HashMap<String, Names>,
}

#[derive(Debug, thiserror::Error)]
#[error("reference data {file}: {source}")]
pub struct ReferenceError {
    file: &'static str,
    source: toml::de::Error,
}

impl Directory {
    /// The data shipped with the service.
    pub fn embedded() -> Result<Directory, ReferenceError> {
        let err = |file| move |source| ReferenceError { file, source };
        let bodies: BodiesFile = toml::from_str(BODIES).map_err(err("bodies.toml"))?;
        let taxonomy: TaxonomyFile = toml::from_str(TAXONOMY).map_err(err("taxonomy.toml"))?;
        let geo: GeoFile = toml::from_str(GEO).map_err(err("geo.toml"))?;
        let regions: RegionsFile = toml::from_str(REGIONS).map_err(err("regions.toml"))?;
        let mut districts = bodies.district;
        for d in &mut districts {
            d.centroid = geo
                .district
                .iter()
                .find(|g| g.code == d.code)
                .map(|g| (g.lat, g.lon));
        }
        let mut category_names = HashMap::new();
        for c in &taxonomy.category {
            category_names.insert(c.code.clone(), c.names.clone());
            for l in &c.leaf {
                category_names.insert(l.code.clone(), l.names.clone());
            }
        }
        Ok(Directory {
            demo_region: bodies.region.code,
            district_index: districts
                .iter()
                .enumerate()
                .map(|(i, d)| (d.code.clone(), i))
                .collect(),
            body_index: bodies
                .body
                .iter()
                .enumerate()
                .map(|(i, b)| (b.code.clone(), i))
                .collect(),
            districts,
            bodies: bodies.body,
            categories: taxonomy.category,
            regions: regions.region,
            category_names,
        })
    }

    pub fn district(&self, code: &str) -> Option<&District> {
        self.district_index.get(code).map(|&i| &self.districts[i])
    }

    pub fn body(&self, code: &str) -> Option<&Body> {
        self.body_index.get(code).map(|&i| &self.bodies[i])
    }

    pub fn district_name(&self, code: &str, lang: Lang) -> String {
        match self.district(code) {
            Some(d) => d.names.get(lang).to_owned(),
            None if code.is_empty() => unknown(lang).to_owned(),
            None => code.to_owned(),
        }
    }

    pub fn body_name(&self, code: &str, lang: Lang) -> String {
        match self.body(code) {
            Some(b) => b.names.get(lang).to_owned(),
            None if code.is_empty() => unknown(lang).to_owned(),
            None => code.to_owned(),
        }
    }

    pub fn category_name(&self, code: &str, lang: Lang) -> String {
        match self.category_names.get(code) {
            Some(n) => n.get(lang).to_owned(),
            None if code.is_empty() => match lang {
                Lang::Kk => "Санаты анықталмаған".into(),
                Lang::Ru => "Категория не определена".into(),
                Lang::En => "Not yet categorised".into(),
            },
            None => code.to_owned(),
        }
    }

    /// Bodies of local government (district and city akimats, rural akimats), monitored
    /// under reg 5.9 and 6.5.
    pub fn local_bodies(&self) -> impl Iterator<Item = &Body> {
        self.bodies.iter().filter(|b| {
            matches!(
                b.kind.as_str(),
                "district_akimat" | "city_akimat" | "rural_akimat"
            )
        })
    }
}

fn unknown(lang: Lang) -> &'static str {
    match lang {
        Lang::Kk => "Көрсетілмеген",
        Lang::Ru => "Не указано",
        Lang::En => "Not given",
    }
}

/// Top-level category of a category code (`housing_utilities.heating` → `housing_utilities`).
pub fn top_category(code: &str) -> &str {
    code.split('.').next().unwrap_or(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_data_loads_with_names_and_geometry() {
        let dir = Directory::embedded().unwrap();
        assert_eq!(dir.demo_region, "almaty_region");
        assert_eq!(dir.districts.len(), 11);
        assert!(dir.districts.iter().all(|d| d.centroid.is_some()));
        assert_eq!(dir.district_name("talgar", Lang::Kk), "Талғар ауданы");
        assert_eq!(
            dir.category_name("housing_utilities", Lang::Ru),
            "Жилищно-коммунальное хозяйство"
        );
        assert_eq!(dir.category_name("nope", Lang::Ru), "nope");
        assert!(dir.local_bodies().any(|b| b.kind == "rural_akimat"));
        assert_eq!(dir.regions.len(), 20);
    }

    #[test]
    fn top_category_strips_the_leaf() {
        assert_eq!(top_category("land.pastures"), "land");
        assert_eq!(top_category("land"), "land");
    }

    #[test]
    fn languages() {
        assert_eq!(Lang::parse(""), Some(Lang::Ru));
        assert_eq!(Lang::parse("KK"), Some(Lang::Kk));
        assert_eq!(Lang::parse("de"), None);
    }
}
