//! The semi-annual report (reg 7.6, 9.6, 9.7): for a half-year, in Kazakh or Russian —
//! appeals and their dynamics, categories and districts, systemic problems, execution of
//! instructions, executive discipline, receptions, and conclusions drawn from the figures.
//! Rendered as HTML (with SVG charts) and as PDF.

use crate::domain::reference::Lang;

use super::pdf::{Align, Layout, PdfError};
use super::xml_escape;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CountRow {
    pub name: String,
    pub appeals: u64,
    pub repeated: u64,
    pub collective: u64,
    pub previous: u64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProblemRow {
    pub label: String,
    pub size: u64,
    pub districts: String,
    pub trend: String,
    pub examples: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstructionRow {
    pub issuer: String,
    pub issued: u64,
    pub completed: u64,
    pub completed_on_time: u64,
    pub overdue: u64,
    pub in_progress: u64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DisciplineLine {
    pub rank: u32,
    pub body: String,
    pub answered: u64,
    pub on_time_percent: f64,
    pub overdue: u64,
    pub returned: u64,
    pub average_days: f64,
    pub instructions_overdue: u64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReceptionRow {
    pub district: String,
    pub booked: u64,
    pub held: u64,
    pub cancelled: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SemiAnnual {
    pub lang: Lang,
    pub year: i32,
    pub half: u32,
    pub period: String,
    pub total: CountRow,
    /// (month label, appeals)
    pub months: Vec<(String, u64)>,
    pub categories: Vec<CountRow>,
    pub districts: Vec<CountRow>,
    pub problems: Vec<ProblemRow>,
    pub instructions: Vec<InstructionRow>,
    pub discipline: Vec<DisciplineLine>,
    pub receptions: Vec<ReceptionRow>,
}

/// Words of the report in its two languages.
struct Words {
    title: &'static str,
    half: &'static str,
    period: &'static str,
    general: &'static str,
    appeals: &'static str,
    repeated: &'static str,
    collective: &'static str,
    previous: &'static str,
    change: &'static str,
    months: &'static str,
    by_category: &'static str,
    category: &'static str,
    by_district: &'static str,
    district: &'static str,
    problems: &'static str,
    problem: &'static str,
    size: &'static str,
    spread: &'static str,
    trend: &'static str,
    examples: &'static str,
    instructions: &'static str,
    issuer: &'static str,
    issued: &'static str,
    completed: &'static str,
    on_time: &'static str,
    overdue: &'static str,
    in_progress: &'static str,
    discipline: &'static str,
    rank: &'static str,
    body: &'static str,
    answered: &'static str,
    on_time_pct: &'static str,
    returned: &'static str,
    avg_days: &'static str,
    instr_overdue: &'static str,
    receptions: &'static str,
    booked: &'static str,
    held: &'static str,
    cancelled: &'static str,
    conclusions: &'static str,
    none: &'static str,
    rising: &'static str,
    falling: &'static str,
    stable: &'static str,
}

const KK: Words = Words {
    title: "Жеке және заңды тұлғалардың өтініштерін қарау және тапсырмалардың орындалуы туралы жартыжылдық есеп",
    half: "жартыжылдық",
    period: "Кезең",
    general: "1. Жалпы көрсеткіштер",
    appeals: "Өтініштер",
    repeated: "Қайталама",
    collective: "Ұжымдық",
    previous: "Алдыңғы кезең",
    change: "Өзгеріс",
    months: "2. Айлар бойынша динамика",
    by_category: "3. Мәселелер санаттары бойынша",
    category: "Санат",
    by_district: "4. Аудандар мен қалалар бойынша",
    district: "Аудан / қала",
    problems: "5. Жүйелі мәселелер (мазмұнды талдау)",
    problem: "Мәселе",
    size: "Саны",
    spread: "Аудандар",
    trend: "Үрдіс",
    examples: "Мысалдар",
    instructions: "6. Тапсырмалардың орындалуы",
    issuer: "Тапсырма берген",
    issued: "Берілді",
    completed: "Орындалды",
    on_time: "Мерзімінде",
    overdue: "Мерзімі өтті",
    in_progress: "Орындалуда",
    discipline: "7. Атқарушылық тәртіп",
    rank: "Орын",
    body: "Орган",
    answered: "Жауап берілді",
    on_time_pct: "Мерзімінде, %",
    returned: "Пысықтауға қайтарылды",
    avg_days: "Орт. күн",
    instr_overdue: "Тапсырма мерзімі өтті",
    receptions: "8. Жеке қабылдаулар",
    booked: "Жазылды",
    held: "Өткізілді",
    cancelled: "Болдырылмады",
    conclusions: "9. Қорытындылар",
    none: "Деректер жоқ.",
    rising: "өсуде",
    falling: "азаюда",
    stable: "тұрақты",
};

const RU: Words = Words {
    title: "Полугодовой отчёт о рассмотрении обращений физических и юридических лиц и исполнении поручений",
    half: "полугодие",
    period: "Период",
    general: "1. Общие показатели",
    appeals: "Обращения",
    repeated: "Повторные",
    collective: "Коллективные",
    previous: "Предыдущий период",
    change: "Изменение",
    months: "2. Динамика по месяцам",
    by_category: "3. По категориям вопросов",
    category: "Категория",
    by_district: "4. По районам и городам",
    district: "Район / город",
    problems: "5. Системные проблемы (контент-анализ)",
    problem: "Проблема",
    size: "Кол-во",
    spread: "Районы",
    trend: "Тренд",
    examples: "Примеры",
    instructions: "6. Исполнение поручений",
    issuer: "Кем дано",
    issued: "Дано",
    completed: "Исполнено",
    on_time: "В срок",
    overdue: "Просрочено",
    in_progress: "На исполнении",
    discipline: "7. Исполнительская дисциплина",
    rank: "Место",
    body: "Орган",
    answered: "Дано ответов",
    on_time_pct: "В срок, %",
    returned: "Возвращено на доработку",
    avg_days: "Ср. дней",
    instr_overdue: "Просрочено поручений",
    receptions: "8. Личные приёмы",
    booked: "Записано",
    held: "Проведено",
    cancelled: "Отменено",
    conclusions: "9. Выводы",
    none: "Данных нет.",
    rising: "растёт",
    falling: "снижается",
    stable: "стабильно",
};

fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::Kk => &KK,
        _ => &RU,
    }
}

impl SemiAnnual {
    pub fn title(&self) -> String {
        words(self.lang).title.to_owned()
    }

    pub fn subtitle(&self) -> String {
        let w = words(self.lang);
        match self.lang {
            Lang::Kk => format!(
                "{} жылғы {}-{} · {}: {}",
                self.year, self.half, w.half, w.period, self.period
            ),
            _ => format!(
                "{}-е {} {} года · {}: {}",
                self.half, w.half, self.year, w.period, self.period
            ),
        }
    }

    pub fn trend_word(&self, trend: &str) -> &'static str {
        let w = words(self.lang);
        match trend {
            "rising" => w.rising,
            "falling" => w.falling,
            _ => w.stable,
        }
    }

    /// Conclusions drawn from the figures (reg 9.7): what grew, where, who lags.
    pub fn conclusions(&self) -> Vec<String> {
        let kk = self.lang == Lang::Kk;
        let mut out = Vec::new();
        let t = &self.total;
        if t.appeals == 0 {
            out.push(words(self.lang).none.to_owned());
            return out;
        }
        let change = change_percent(t.appeals, t.previous);
        out.push(if kk {
            format!(
                "Кезеңде {} өтініш түсті ({}: {}), оның ішінде қайталама — {}, ұжымдық — {}.",
                t.appeals, words(self.lang).previous, t.previous, t.repeated, t.collective
            ) + &change.map(|c| format!(" Өзгеріс: {c:+.1}%.")).unwrap_or_default()
        } else {
            format!(
                "За период поступило {} обращений (предыдущий период: {}), из них повторных — {}, коллективных — {}.",
                t.appeals, t.previous, t.repeated, t.collective
            ) + &change.map(|c| format!(" Изменение: {c:+.1}%.")).unwrap_or_default()
        });
        if let Some(top) = self.categories.first() {
            out.push(if kk {
                format!(
                    "Ең көп өтініш «{}» санаты бойынша: {}.",
                    top.name, top.appeals
                )
            } else {
                format!(
                    "Больше всего обращений по категории «{}»: {}.",
                    top.name, top.appeals
                )
            });
        }
        let growing: Vec<&CountRow> = self
            .districts
            .iter()
            .filter(|d| {
                d.previous > 0
                    && d.appeals as f64 >= d.previous as f64 * 1.2
                    && d.appeals >= d.previous + 5
            })
            .collect();
        if !growing.is_empty() {
            let names: Vec<String> = growing.iter().take(5).map(|d| d.name.clone()).collect();
            out.push(if kk {
                format!(
                    "Өтініштер саны айтарлықтай өскен аудандар: {}.",
                    names.join(", ")
                )
            } else {
                format!("Заметный рост числа обращений: {}.", names.join(", "))
            });
        }
        if let Some(p) = self.problems.first() {
            out.push(if kk {
                format!(
                    "Басты жүйелі мәселе: «{}» ({} өтініш; {}).",
                    p.label, p.size, p.districts
                )
            } else {
                format!(
                    "Главная системная проблема: «{}» ({} обращений; {}).",
                    p.label, p.size, p.districts
                )
            });
        }
        let overdue: u64 = self.instructions.iter().map(|i| i.overdue).sum();
        if overdue > 0 {
            out.push(if kk {
                format!("Мерзімі өткен тапсырмалар: {overdue}. Орындаушылардың жауапкершілігін арттыру ұсынылады (reg 9.4).")
            } else {
                format!("Просрочено поручений: {overdue}. Предлагается рассмотреть ответственность исполнителей (п. 9.4).")
            });
        }
        let laggards: Vec<String> = self
            .discipline
            .iter()
            .rev()
            .filter(|d| d.answered > 0 && d.on_time_percent < 80.0)
            .take(3)
            .map(|d| format!("{} ({:.0}%)", d.body, d.on_time_percent))
            .collect();
        if !laggards.is_empty() {
            out.push(if kk {
                format!(
                    "Атқарушылық тәртібі төмен органдар: {}.",
                    laggards.join(", ")
                )
            } else {
                format!(
                    "Низкая исполнительская дисциплина: {}.",
                    laggards.join(", ")
                )
            });
        }
        out
    }
}

pub fn change_percent(now: u64, before: u64) -> Option<f64> {
    (before > 0).then(|| (now as f64 - before as f64) * 100.0 / before as f64)
}

fn fmt_change(now: u64, before: u64) -> String {
    change_percent(now, before)
        .map(|c| format!("{c:+.1}%"))
        .unwrap_or_else(|| "—".into())
}

fn html_table(out: &mut String, headers: &[&str], rows: &[Vec<String>], numeric_from: usize) {
    out.push_str("<table>\n<thead><tr>");
    for h in headers {
        out.push_str(&format!("<th>{}</th>", xml_escape(h)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let class = if i >= numeric_from {
                " class=\"n\""
            } else {
                ""
            };
            out.push_str(&format!("<td{class}>{}</td>", xml_escape(cell)));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

/// Horizontal bar chart as inline SVG.
fn svg_bars(items: &[(String, u64)]) -> String {
    let max = items.iter().map(|(_, v)| *v).max().unwrap_or(1).max(1) as f64;
    let h = 22.0 * items.len() as f64 + 10.0;
    let mut s = format!(
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" height=\"{h}\" viewBox=\"0 0 720 {h}\">"
    );
    for (i, (label, v)) in items.iter().enumerate() {
        let y = 5.0 + i as f64 * 22.0;
        let w = (*v as f64 / max * 420.0).max(1.0);
        s.push_str(&format!(
            "<text x=\"0\" y=\"{:.0}\" font-size=\"12\">{}</text><rect x=\"230\" y=\"{y:.0}\" width=\"{w:.1}\" height=\"16\" fill=\"#2b6cb0\"/><text x=\"{:.1}\" y=\"{:.0}\" font-size=\"12\">{v}</text>",
            y + 13.0,
            xml_escape(&label.chars().take(34).collect::<String>()),
            236.0 + w,
            y + 13.0
        ));
    }
    s.push_str("</svg>\n");
    s
}

impl SemiAnnual {
    fn category_rows(&self) -> Vec<Vec<String>> {
        self.categories.iter().map(count_cells).collect()
    }

    fn district_rows(&self) -> Vec<Vec<String>> {
        self.districts.iter().map(count_cells).collect()
    }

    fn problem_rows(&self) -> Vec<Vec<String>> {
        self.problems
            .iter()
            .map(|p| {
                vec![
                    p.label.clone(),
                    p.size.to_string(),
                    p.districts.clone(),
                    self.trend_word(&p.trend).to_owned(),
                    p.examples.clone(),
                ]
            })
            .collect()
    }

    fn instruction_rows(&self) -> Vec<Vec<String>> {
        self.instructions
            .iter()
            .map(|i| {
                vec![
                    i.issuer.clone(),
                    i.issued.to_string(),
                    i.completed.to_string(),
                    i.completed_on_time.to_string(),
                    i.overdue.to_string(),
                    i.in_progress.to_string(),
                ]
            })
            .collect()
    }

    fn discipline_rows(&self) -> Vec<Vec<String>> {
        self.discipline
            .iter()
            .map(|d| {
                vec![
                    d.rank.to_string(),
                    d.body.clone(),
                    d.answered.to_string(),
                    format!("{:.1}", d.on_time_percent),
                    d.overdue.to_string(),
                    d.returned.to_string(),
                    format!("{:.1}", d.average_days),
                    d.instructions_overdue.to_string(),
                ]
            })
            .collect()
    }

    fn reception_rows(&self) -> Vec<Vec<String>> {
        self.receptions
            .iter()
            .map(|r| {
                vec![
                    r.district.clone(),
                    r.booked.to_string(),
                    r.held.to_string(),
                    r.cancelled.to_string(),
                ]
            })
            .collect()
    }

    fn count_headers(&self, first: &'static str) -> [&'static str; 6] {
        let w = words(self.lang);
        [
            first,
            w.appeals,
            w.repeated,
            w.collective,
            w.previous,
            w.change,
        ]
    }

    pub fn html(&self) -> String {
        let w = words(self.lang);
        let mut out = String::new();
        out.push_str(&format!(
            "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n",
            self.lang.code(),
            xml_escape(w.title)
        ));
        out.push_str(
            "<style>body{font-family:'DejaVu Sans',Arial,sans-serif;max-width:980px;margin:2em auto;color:#1f2937}\
             h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #cbd5e1}\
             table{border-collapse:collapse;width:100%;font-size:.9em}th,td{border:1px solid #cbd5e1;padding:3px 6px}\
             th{background:#dbe5f1;text-align:left}td.n{text-align:right}tr:nth-child(even){background:#f5f5f5}\
             .chart{margin:.5em 0}</style>\n</head>\n<body>\n",
        );
        out.push_str(&format!(
            "<h1>{}</h1>\n<p>{}</p>\n",
            xml_escape(w.title),
            xml_escape(&self.subtitle())
        ));
        let t = &self.total;
        out.push_str(&format!("<h2>{}</h2>\n", w.general));
        html_table(
            &mut out,
            &[w.appeals, w.repeated, w.collective, w.previous, w.change],
            &[vec![
                t.appeals.to_string(),
                t.repeated.to_string(),
                t.collective.to_string(),
                t.previous.to_string(),
                fmt_change(t.appeals, t.previous),
            ]],
            0,
        );
        out.push_str(&format!("<h2>{}</h2>\n", w.months));
        out.push_str(&svg_bars(&self.months));
        out.push_str(&format!("<h2>{}</h2>\n", w.by_category));
        out.push_str(&svg_bars(
            &self
                .categories
                .iter()
                .take(10)
                .map(|c| (c.name.clone(), c.appeals))
                .collect::<Vec<_>>(),
        ));
        html_table(
            &mut out,
            &self.count_headers(w.category),
            &self.category_rows(),
            1,
        );
        out.push_str(&format!("<h2>{}</h2>\n", w.by_district));
        html_table(
            &mut out,
            &self.count_headers(w.district),
            &self.district_rows(),
            1,
        );
        out.push_str(&format!("<h2>{}</h2>\n", w.problems));
        if self.problems.is_empty() {
            out.push_str(&format!("<p>{}</p>\n", w.none));
        } else {
            html_table(
                &mut out,
                &[w.problem, w.size, w.spread, w.trend, w.examples],
                &self.problem_rows(),
                5,
            );
        }
        out.push_str(&format!("<h2>{}</h2>\n", w.instructions));
        if self.instructions.is_empty() {
            out.push_str(&format!("<p>{}</p>\n", w.none));
        } else {
            out.push_str(&svg_bars(
                &self
                    .instructions
                    .iter()
                    .map(|i| (i.issuer.clone(), i.issued))
                    .collect::<Vec<_>>(),
            ));
            html_table(
                &mut out,
                &[
                    w.issuer,
                    w.issued,
                    w.completed,
                    w.on_time,
                    w.overdue,
                    w.in_progress,
                ],
                &self.instruction_rows(),
                1,
            );
        }
        out.push_str(&format!("<h2>{}</h2>\n", w.discipline));
        html_table(
            &mut out,
            &[
                w.rank,
                w.body,
                w.answered,
                w.on_time_pct,
                w.overdue,
                w.returned,
                w.avg_days,
                w.instr_overdue,
            ],
            &self.discipline_rows(),
            2,
        );
        out.push_str(&format!("<h2>{}</h2>\n", w.receptions));
        if self.receptions.is_empty() {
            out.push_str(&format!("<p>{}</p>\n", w.none));
        } else {
            html_table(
                &mut out,
                &[w.district, w.booked, w.held, w.cancelled],
                &self.reception_rows(),
                1,
            );
        }
        out.push_str(&format!("<h2>{}</h2>\n<ul>\n", w.conclusions));
        for c in self.conclusions() {
            out.push_str(&format!("<li>{}</li>\n", xml_escape(&c)));
        }
        out.push_str("</ul>\n</body>\n</html>\n");
        out
    }

    pub fn pdf(&self) -> Result<Vec<u8>, PdfError> {
        let w = words(self.lang);
        let mut l = Layout::new(&format!("{} {}/{}", self.year, self.half, w.half))?;
        l.heading(w.title, 15.0);
        l.paragraph(&self.subtitle(), 10.0);
        let t = &self.total;
        l.heading(w.general, 12.0);
        l.table(
            &[w.appeals, w.repeated, w.collective, w.previous, w.change],
            &[vec![
                t.appeals.to_string(),
                t.repeated.to_string(),
                t.collective.to_string(),
                t.previous.to_string(),
                fmt_change(t.appeals, t.previous),
            ]],
            &[0.2; 5],
            &[Align::Right; 5],
        );
        l.heading(w.months, 12.0);
        l.bar_chart(&self.months);
        let count_widths = [0.40, 0.12, 0.12, 0.12, 0.12, 0.12];
        let count_align = [
            Align::Left,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
        ];
        l.heading(w.by_category, 12.0);
        l.bar_chart(
            &self
                .categories
                .iter()
                .take(10)
                .map(|c| (c.name.clone(), c.appeals))
                .collect::<Vec<_>>(),
        );
        l.table(
            &self.count_headers(w.category),
            &self.category_rows(),
            &count_widths,
            &count_align,
        );
        l.heading(w.by_district, 12.0);
        l.table(
            &self.count_headers(w.district),
            &self.district_rows(),
            &count_widths,
            &count_align,
        );
        l.heading(w.problems, 12.0);
        if self.problems.is_empty() {
            l.paragraph(w.none, 10.0);
        } else {
            l.table(
                &[w.problem, w.size, w.spread, w.trend, w.examples],
                &self.problem_rows(),
                &[0.30, 0.08, 0.27, 0.10, 0.25],
                &[
                    Align::Left,
                    Align::Right,
                    Align::Left,
                    Align::Left,
                    Align::Left,
                ],
            );
        }
        l.heading(w.instructions, 12.0);
        if self.instructions.is_empty() {
            l.paragraph(w.none, 10.0);
        } else {
            l.bar_chart(
                &self
                    .instructions
                    .iter()
                    .map(|i| (i.issuer.clone(), i.issued))
                    .collect::<Vec<_>>(),
            );
            l.table(
                &[
                    w.issuer,
                    w.issued,
                    w.completed,
                    w.on_time,
                    w.overdue,
                    w.in_progress,
                ],
                &self.instruction_rows(),
                &[0.35, 0.13, 0.13, 0.13, 0.13, 0.13],
                &[
                    Align::Left,
                    Align::Right,
                    Align::Right,
                    Align::Right,
                    Align::Right,
                    Align::Right,
                ],
            );
        }
        l.heading(w.discipline, 12.0);
        l.table(
            &[
                w.rank,
                w.body,
                w.answered,
                w.on_time_pct,
                w.overdue,
                w.returned,
                w.avg_days,
                w.instr_overdue,
            ],
            &self.discipline_rows(),
            &[0.06, 0.34, 0.09, 0.09, 0.09, 0.12, 0.09, 0.12],
            &[
                Align::Right,
                Align::Left,
                Align::Right,
                Align::Right,
                Align::Right,
                Align::Right,
                Align::Right,
                Align::Right,
            ],
        );
        l.heading(w.receptions, 12.0);
        if self.receptions.is_empty() {
            l.paragraph(w.none, 10.0);
        } else {
            l.table(
                &[w.district, w.booked, w.held, w.cancelled],
                &self.reception_rows(),
                &[0.55, 0.15, 0.15, 0.15],
                &[Align::Left, Align::Right, Align::Right, Align::Right],
            );
        }
        l.heading(w.conclusions, 12.0);
        for c in self.conclusions() {
            l.paragraph(&format!("• {c}"), 10.0);
        }
        Ok(l.finish())
    }
}

fn count_cells(c: &CountRow) -> Vec<String> {
    vec![
        c.name.clone(),
        c.appeals.to_string(),
        c.repeated.to_string(),
        c.collective.to_string(),
        c.previous.to_string(),
        fmt_change(c.appeals, c.previous),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn sample(lang: Lang) -> SemiAnnual {
        SemiAnnual {
            lang,
            year: 2026,
            half: 1,
            period: "2026-01-01 — 2026-06-30".into(),
            total: CountRow {
                name: String::new(),
                appeals: 120,
                repeated: 10,
                collective: 4,
                previous: 100,
            },
            months: vec![("2026-01".into(), 20), ("2026-02".into(), 25)],
            categories: vec![CountRow {
                name: "Жол <көлік>".into(),
                appeals: 50,
                repeated: 3,
                collective: 1,
                previous: 30,
            }],
            districts: vec![CountRow {
                name: "Талғар ауданы".into(),
                appeals: 60,
                repeated: 5,
                collective: 2,
                previous: 40,
            }],
            problems: vec![ProblemRow {
                label: "су, водопровод".into(),
                size: 12,
                districts: "Талғар (8), Іле (4)".into(),
                trend: "rising".into(),
                examples: "ALM-2026-000001".into(),
            }],
            instructions: vec![InstructionRow {
                issuer: "president".into(),
                issued: 5,
                completed: 3,
                completed_on_time: 2,
                overdue: 1,
                in_progress: 2,
            }],
            discipline: vec![DisciplineLine {
                rank: 1,
                body: "Талғар ауданының әкімдігі".into(),
                answered: 40,
                on_time_percent: 75.0,
                overdue: 3,
                returned: 2,
                average_days: 9.5,
                instructions_overdue: 1,
            }],
            receptions: vec![ReceptionRow {
                district: "Талғар ауданы".into(),
                booked: 10,
                held: 8,
                cancelled: 1,
            }],
        }
    }

    #[test]
    fn html_has_every_section_table_and_chart() {
        let html = sample(Lang::Kk).html();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<html lang=\"kk\">"));
        assert_eq!(html.matches("<table>").count(), 7);
        assert!(html.contains("<svg class=\"chart\""));
        assert!(html.contains("Жол &lt;көлік&gt;"));
        assert!(html.contains("Атқарушылық тәртіп"));
        assert!(html.contains("+20.0%"));
        assert!(html.contains("өсуде"));
    }

    #[test]
    fn russian_pdf_is_a_pdf() {
        let pdf = sample(Lang::Ru).pdf().unwrap();
        assert!(pdf.starts_with(b"%PDF"));
    }

    #[test]
    fn conclusions_name_growth_problems_and_laggards() {
        let c = sample(Lang::Ru).conclusions();
        assert!(c[0].contains("120") && c[0].contains("+20.0%"), "{c:?}");
        assert!(c.iter().any(|l| l.contains("Талғар ауданы")), "{c:?}");
        assert!(c.iter().any(|l| l.contains("су, водопровод")));
        assert!(c.iter().any(|l| l.contains("Просрочено поручений: 1")));
        assert!(c.iter().any(|l| l.contains("75%")));
    }

    #[test]
    fn empty_half_year_says_so() {
        let mut s = sample(Lang::Kk);
        s.total = CountRow::default();
        assert_eq!(s.conclusions(), vec!["Деректер жоқ.".to_string()]);
    }
}
