//! Content analysis (reg 7.1): clusters of similar appeals — the same problem raised by
//! many applicants or in many districts. Texts in Kazakh or Russian are reduced to sets of
//! word stems (lower case, stop words out, each word cut to its first letters so that
//! "дорогу"/"дороги" and "жолдар"/"жолды" meet); similar sets are found with MinHash
//! locality-sensitive hashing and joined when their Jaccard similarity is high enough.
//! Each cluster is labelled with its most telling terms (frequent in the cluster, rare
//! elsewhere: TF-IDF).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::LazyLock;

use chrono::NaiveDate;

/// Letters a stem keeps. Russian and Kazakh inflect at the end of the word; six letters
/// keep the root of most words apart while joining their forms.
const STEM_LETTERS: usize = 6;
const HASHES: usize = 64;
const BAND_ROWS: usize = 2;
/// How many members of one LSH bucket each newcomer is checked against.
const LEADERS_PER_BUCKET: usize = 4;

const STOP_WORDS: &[&str] = &[
    // Russian
    "и",
    "в",
    "во",
    "не",
    "что",
    "он",
    "на",
    "я",
    "с",
    "со",
    "как",
    "а",
    "то",
    "все",
    "она",
    "так",
    "его",
    "но",
    "да",
    "ты",
    "к",
    "у",
    "же",
    "вы",
    "за",
    "бы",
    "по",
    "только",
    "ее",
    "мне",
    "было",
    "вот",
    "от",
    "меня",
    "еще",
    "нет",
    "о",
    "из",
    "ему",
    "теперь",
    "когда",
    "даже",
    "ну",
    "ли",
    "если",
    "уже",
    "или",
    "ни",
    "быть",
    "был",
    "него",
    "до",
    "вас",
    "нибудь",
    "уж",
    "вам",
    "ведь",
    "там",
    "потом",
    "себя",
    "ничего",
    "ей",
    "может",
    "они",
    "тут",
    "где",
    "есть",
    "надо",
    "ней",
    "для",
    "мы",
    "тебя",
    "их",
    "чем",
    "была",
    "сам",
    "чтоб",
    "без",
    "будто",
    "чего",
    "раз",
    "тоже",
    "себе",
    "под",
    "будет",
    "ж",
    "тогда",
    "кто",
    "этот",
    "того",
    "потому",
    "этого",
    "какой",
    "совсем",
    "ним",
    "здесь",
    "этом",
    "один",
    "почти",
    "мой",
    "тем",
    "чтобы",
    "нее",
    "сейчас",
    "были",
    "куда",
    "зачем",
    "всех",
    "никогда",
    "можно",
    "при",
    "наконец",
    "два",
    "об",
    "другой",
    "хоть",
    "после",
    "над",
    "больше",
    "тот",
    "через",
    "эти",
    "нас",
    "про",
    "всего",
    "них",
    "какая",
    "много",
    "разве",
    "три",
    "эту",
    "моя",
    "впрочем",
    "хорошо",
    "свою",
    "этой",
    "перед",
    "иногда",
    "лучше",
    "чуть",
    "том",
    "нельзя",
    "такой",
    "им",
    "более",
    "всегда",
    "конечно",
    "всю",
    "между",
    "это",
    "наш",
    "наши",
    "нашей",
    "нашего",
    "также",
    "прошу",
    "просим",
    "очень",
    "который",
    "которые",
    "которая",
    "уже",
    "год",
    "года",
    "лет",
    "месяц",
    "сих",
    "пор",
    "никто",
    "никак",
    "пожалуйста",
    "т",
    "д",
    "г",
    "ул",
    "дом",
    // Kazakh
    "және",
    "мен",
    "бен",
    "пен",
    "да",
    "де",
    "та",
    "те",
    "бұл",
    "сол",
    "осы",
    "ол",
    "біз",
    "сіз",
    "олар",
    "мен",
    "менің",
    "біздің",
    "сіздің",
    "оның",
    "үшін",
    "туралы",
    "бойынша",
    "дейін",
    "кейін",
    "бар",
    "жоқ",
    "емес",
    "еді",
    "әлі",
    "тағы",
    "ең",
    "өте",
    "қазір",
    "неге",
    "неге",
    "не",
    "қалай",
    "кім",
    "қай",
    "бір",
    "екі",
    "үш",
    "жыл",
    "ай",
    "күн",
    "арқылы",
    "сияқты",
    "болып",
    "болды",
    "болса",
    "болған",
    "бола",
    "деп",
    "ма",
    "ме",
    "ба",
    "бе",
    "па",
    "пе",
    "ғой",
    "қой",
    "сұраймын",
    "сұраймыз",
    "өтінемін",
    "өтінеміз",
    "тиіс",
    "керек",
    "бірақ",
    "немесе",
    "егер",
    "әр",
    "барлық",
    "көп",
    "аз",
];

/// One appeal to analyse.
#[derive(Debug, Clone)]
pub struct Doc {
    pub registration_number: String,
    pub district: String,
    pub category: String,
    pub language: String,
    pub day: NaiveDate,
    pub text: String,
}

static STOP: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| STOP_WORDS.iter().copied().collect());

/// Words of a text: lower case, letters and digits only, stop words and short words out.
pub fn words(text: &str) -> Vec<String> {
    let stop = &*STOP;
    text.split(|c: char| !c.is_alphanumeric())
        .map(|w| w.to_lowercase())
        .filter(|w| w.chars().count() >= 3 && !stop.contains(w.as_str()))
        .filter(|w| !w.chars().all(|c| c.is_ascii_digit()))
        .collect()
}

pub fn stem(word: &str) -> String {
    word.chars().take(STEM_LETTERS).collect()
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A set of stems as their sorted, distinct hashes: cheap to compare.
pub fn stem_set(words: &[String]) -> Vec<u64> {
    let mut v: Vec<u64> = words.iter().map(|w| fnv(&stem(w))).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// MinHash signature of a set of stem hashes.
pub fn minhash(stems: &[u64]) -> [u64; HASHES] {
    let mut sig = [u64::MAX; HASHES];
    for &h in stems {
        for (i, slot) in sig.iter_mut().enumerate() {
            let v = mix(h ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            if v < *slot {
                *slot = v;
            }
        }
    }
    sig
}

/// Jaccard similarity of two stem sets (sorted, distinct hashes).
pub fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    let (mut i, mut j, mut inter) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                inter += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - inter;
    if union == 0 {
        0.0
    } else {
        inter as f64 / union as f64
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClusterParams {
    /// Jaccard similarity of stem sets at which two appeals are the same problem.
    pub similarity: f64,
    pub min_size: usize,
    pub max_clusters: usize,
    pub label_terms: usize,
    pub examples: usize,
}

impl Default for ClusterParams {
    fn default() -> Self {
        Self {
            similarity: 0.3,
            min_size: 3,
            max_clusters: 10,
            label_terms: 4,
            examples: 5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trend {
    Rising,
    Falling,
    Stable,
}

impl Trend {
    pub fn as_str(&self) -> &'static str {
        match self {
            Trend::Rising => "rising",
            Trend::Falling => "falling",
            Trend::Stable => "stable",
        }
    }

    /// Compares the two halves of the period: a change of a quarter and at least two
    /// appeals is a trend.
    pub fn of(first_half: u64, second_half: u64) -> Trend {
        let (a, b) = (first_half as f64, second_half as f64);
        if b >= a * 1.25 && second_half >= first_half + 2 {
            Trend::Rising
        } else if a >= b * 1.25 && first_half >= second_half + 2 {
            Trend::Falling
        } else {
            Trend::Stable
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub label: String,
    pub terms: Vec<String>,
    pub size: usize,
    /// (district, appeals), most first.
    pub districts: Vec<(String, u64)>,
    pub first_half: u64,
    pub second_half: u64,
    pub trend: Trend,
    pub examples: Vec<String>,
    pub top_category: String,
    pub language: String,
    /// Indexes into the input, for tests.
    pub members: Vec<usize>,
}

struct UnionFind(Vec<usize>);

impl UnionFind {
    fn find(&mut self, x: usize) -> usize {
        let mut root = x;
        while self.0[root] != root {
            root = self.0[root];
        }
        let mut cur = x;
        while self.0[cur] != root {
            let next = self.0[cur];
            self.0[cur] = root;
            cur = next;
        }
        root
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            // Smaller index wins: the result does not depend on the order of unions.
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.0[hi] = lo;
        }
    }
}

/// Clusters of similar appeals, largest first. `midpoint` splits the period for the trend.
pub fn cluster(docs: &[Doc], midpoint: NaiveDate, params: &ClusterParams) -> Vec<Cluster> {
    let tokenised: Vec<Vec<String>> = docs.iter().map(|d| words(&d.text)).collect();
    let stems: Vec<Vec<u64>> = tokenised.iter().map(|ws| stem_set(ws)).collect();
    let mut uf = UnionFind((0..docs.len()).collect());
    // Appeals with the very same stems join the first of them at once: mass appeals often
    // repeat one text, and the hashing below then runs once per distinct text.
    let mut first_with: HashMap<&[u64], usize> = HashMap::new();
    let mut buckets: HashMap<(usize, u64), Vec<usize>> = HashMap::new();
    for (i, set) in stems.iter().enumerate() {
        if set.len() < 2 {
            continue;
        }
        if let Some(&j) = first_with.get(set.as_slice()) {
            uf.union(i, j);
            continue;
        }
        first_with.insert(set.as_slice(), i);
        let sig = minhash(set);
        for band in 0..HASHES / BAND_ROWS {
            let mut h: u64 = band as u64;
            for v in &sig[band * BAND_ROWS..(band + 1) * BAND_ROWS] {
                h = mix(h ^ v);
            }
            let bucket = buckets.entry((band, h)).or_default();
            for &j in bucket.iter() {
                if uf.find(i) != uf.find(j) && jaccard(set, &stems[j]) >= params.similarity {
                    uf.union(i, j);
                }
            }
            if bucket.len() < LEADERS_PER_BUCKET {
                bucket.push(i);
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..docs.len() {
        let root = uf.find(i);
        groups.entry(root).or_default().push(i);
    }
    // Document frequency of stems over all analysed appeals, for the labels.
    let mut df: HashMap<u64, usize> = HashMap::new();
    for set in &stems {
        for s in set {
            *df.entry(*s).or_default() += 1;
        }
    }
    let n = docs.len().max(1) as f64;
    let mut clusters: Vec<Cluster> = groups
        .into_values()
        .filter(|m| m.len() >= params.min_size.max(2))
        .map(|members| describe(docs, &tokenised, &stems, &df, n, members, midpoint, params))
        .collect();
    clusters.sort_by(|a, b| {
        b.size
            .cmp(&a.size)
            .then(b.districts.len().cmp(&a.districts.len()))
            .then(a.label.cmp(&b.label))
    });
    clusters.truncate(params.max_clusters);
    clusters
}

#[allow(clippy::too_many_arguments)]
fn describe(
    docs: &[Doc],
    tokenised: &[Vec<String>],
    stems: &[Vec<u64>],
    df: &HashMap<u64, usize>,
    n: f64,
    members: Vec<usize>,
    midpoint: NaiveDate,
    params: &ClusterParams,
) -> Cluster {
    let size = members.len();
    let mut in_cluster: HashMap<u64, usize> = HashMap::new();
    // The commonest surface form of each stem, to show words rather than stems.
    let mut forms: HashMap<u64, BTreeMap<&str, usize>> = HashMap::new();
    for &i in members.iter().take(2000) {
        for s in &stems[i] {
            *in_cluster.entry(*s).or_default() += 1;
        }
        for w in &tokenised[i] {
            *forms
                .entry(fnv(&stem(w)))
                .or_default()
                .entry(w.as_str())
                .or_default() += 1;
        }
    }
    let counted = size.min(2000);
    let form_of = |s: u64| -> String {
        forms
            .get(&s)
            .and_then(|f| {
                f.iter()
                    .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                    .map(|(w, _)| (*w).to_owned())
            })
            .unwrap_or_default()
    };
    let mut scored: Vec<(f64, String)> = in_cluster
        .iter()
        .filter(|(_, c)| **c * 3 >= counted) // in at least a third of the cluster
        .map(|(s, c)| {
            let idf = (n / *df.get(s).unwrap_or(&1) as f64).ln() + 1.0;
            (*c as f64 / counted as f64 * idf, form_of(*s))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let terms: Vec<String> = scored
        .into_iter()
        .take(params.label_terms)
        .map(|(_, w)| w)
        .collect();
    let mut districts: BTreeMap<&str, u64> = BTreeMap::new();
    let mut categories: BTreeMap<&str, u64> = BTreeMap::new();
    let mut languages: BTreeMap<&str, u64> = BTreeMap::new();
    let (mut first_half, mut second_half) = (0, 0);
    for &i in &members {
        let d = &docs[i];
        *districts.entry(d.district.as_str()).or_default() += 1;
        *categories.entry(d.category.as_str()).or_default() += 1;
        *languages.entry(d.language.as_str()).or_default() += 1;
        if d.day < midpoint {
            first_half += 1;
        } else {
            second_half += 1;
        }
    }
    let mut districts: Vec<(String, u64)> = districts
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    districts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let most = |m: BTreeMap<&str, u64>| {
        m.into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
            .map(|(k, _)| k.to_owned())
            .unwrap_or_default()
    };
    // Latest appeals as examples.
    let mut by_recent = members.clone();
    by_recent.sort_by(|a, b| {
        docs[*b].day.cmp(&docs[*a].day).then(
            docs[*b]
                .registration_number
                .cmp(&docs[*a].registration_number),
        )
    });
    Cluster {
        label: terms.join(", "),
        terms,
        size,
        districts,
        first_half,
        second_half,
        trend: Trend::of(first_half, second_half),
        examples: by_recent
            .iter()
            .take(params.examples)
            .map(|&i| docs[i].registration_number.clone())
            .collect(),
        top_category: most(categories),
        language: most(languages),
        members,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn doc(n: usize, district: &str, day: u32, text: &str) -> Doc {
        Doc {
            registration_number: format!("ALM-2026-{n:06}"),
            district: district.into(),
            category: "housing_utilities".into(),
            language: "ru".into(),
            day: NaiveDate::from_ymd_opt(2026, 3, day).unwrap(),
            text: text.into(),
        }
    }

    fn fixture() -> Vec<Doc> {
        vec![
            doc(
                1,
                "talgar",
                2,
                "В селе Бесагаш третью неделю нет питьевой воды, водопровод не работает",
            ),
            doc(
                2,
                "talgar",
                3,
                "Нет питьевой воды в селе Бесагаш, водопровод сломан уже неделю",
            ),
            doc(
                3,
                "ile",
                20,
                "Третью неделю нет питьевой воды, водопровод в селе не работает",
            ),
            doc(
                4,
                "karasay",
                25,
                "Водопровод не работает, нет питьевой воды в селе",
            ),
            doc(
                5,
                "zhambyl",
                4,
                "Жол жөндеу керек, ауылдағы жолдар шұңқыр, көлік жүре алмайды",
            ),
            doc(
                6,
                "zhambyl",
                22,
                "Ауылдағы жолдар шұңқыр, жол жөндеу жүргізілмеді, көлік жүре алмайды",
            ),
            doc(
                7,
                "kegen",
                26,
                "Жолдар шұңқыр, ауылдағы жол жөндеу керек, көлік өте алмайды",
            ),
            doc(
                8,
                "konaev",
                5,
                "Прошу выделить место в детском саду для ребенка",
            ),
            doc(9, "uigur", 6, "Хочу пожаловаться на шум соседей по ночам"),
        ]
    }

    #[test]
    fn words_drop_stop_words_and_short_tokens() {
        assert_eq!(
            words("Прошу, НЕТ воды в селе №5 и 2024!"),
            vec!["воды".to_string(), "селе".to_string()]
        );
        assert_eq!(stem("водопровод"), "водопр");
    }

    #[test]
    fn similar_appeals_form_clusters_with_labels_spread_and_trend() {
        let docs = fixture();
        let mid = NaiveDate::from_ymd_opt(2026, 3, 16).unwrap();
        let clusters = cluster(&docs, mid, &ClusterParams::default());
        assert_eq!(clusters.len(), 2, "{clusters:#?}");
        let water = &clusters[0];
        assert_eq!(water.members, vec![0, 1, 2, 3]);
        assert_eq!(water.size, 4);
        assert!(
            water.terms.iter().any(|t| t.starts_with("водопровод")),
            "{:?}",
            water.terms
        );
        assert_eq!(water.districts[0], ("talgar".to_string(), 2));
        assert_eq!(water.districts.len(), 3);
        assert_eq!((water.first_half, water.second_half), (2, 2));
        assert_eq!(water.trend, Trend::Stable);
        assert_eq!(water.examples[0], "ALM-2026-000004");
        let roads = &clusters[1];
        assert_eq!(roads.members, vec![4, 5, 6]);
        assert!(
            roads.terms.iter().any(|t| t.starts_with("жол")),
            "{:?}",
            roads.terms
        );
        assert_eq!(roads.trend, Trend::Stable);
    }

    #[test]
    fn min_size_and_max_clusters_are_honoured() {
        let docs = fixture();
        let mid = NaiveDate::from_ymd_opt(2026, 3, 16).unwrap();
        let params = ClusterParams {
            min_size: 4,
            ..Default::default()
        };
        assert_eq!(cluster(&docs, mid, &params).len(), 1);
        let params = ClusterParams {
            max_clusters: 1,
            ..Default::default()
        };
        assert_eq!(cluster(&docs, mid, &params).len(), 1);
    }

    #[test]
    fn trend_needs_a_real_change() {
        assert_eq!(Trend::of(2, 10), Trend::Rising);
        assert_eq!(Trend::of(10, 2), Trend::Falling);
        assert_eq!(Trend::of(4, 5), Trend::Stable);
        assert_eq!(Trend::of(0, 1), Trend::Stable);
    }

    proptest! {
        // Clusters never overlap, and the order of the input does not change which appeals
        // end up together.
        #[test]
        fn clusters_are_disjoint_and_order_independent(seed in 0u64..1000) {
            let docs = fixture();
            let mut order: Vec<usize> = (0..docs.len()).collect();
            let mut s = seed;
            for i in (1..order.len()).rev() {
                s = mix(s);
                order.swap(i, (s % (i as u64 + 1)) as usize);
            }
            let shuffled: Vec<Doc> = order.iter().map(|&i| docs[i].clone()).collect();
            let mid = NaiveDate::from_ymd_opt(2026, 3, 16).unwrap();
            let clusters = cluster(&shuffled, mid, &ClusterParams::default());
            let mut seen = HashSet::new();
            let mut groups: Vec<Vec<String>> = Vec::new();
            for c in &clusters {
                let mut g: Vec<String> = c.members.iter().map(|&i| shuffled[i].registration_number.clone()).collect();
                for m in &c.members { prop_assert!(seen.insert(*m)); }
                g.sort();
                groups.push(g);
            }
            groups.sort();
            prop_assert_eq!(groups, vec![
                vec!["ALM-2026-000001".to_string(), "ALM-2026-000002".into(), "ALM-2026-000003".into(), "ALM-2026-000004".into()],
                vec!["ALM-2026-000005".to_string(), "ALM-2026-000006".into(), "ALM-2026-000007".into()],
            ]);
        }
    }
}
