//! Executive discipline (reg 9.2): per body, answers on time and late, overdue appeals,
//! answers returned for rework, average days to answer, instructions overdue — and a
//! ranking, best first.

use std::cmp::Ordering;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct BodyDiscipline {
    pub body: String,
    pub assigned: u64,
    pub answered: u64,
    pub on_time: u64,
    pub late: u64,
    pub overdue: u64,
    pub returned_for_rework: u64,
    /// Sum of calendar days from registration to the first answer, over `answered`.
    pub answer_days: u64,
    pub instructions_issued: u64,
    pub instructions_completed: u64,
    pub instructions_overdue: u64,
}

impl BodyDiscipline {
    pub fn average_days_to_answer(&self) -> f64 {
        if self.answered == 0 {
            0.0
        } else {
            self.answer_days as f64 / self.answered as f64
        }
    }

    /// Share of first answers given by the due date, in percent.
    pub fn on_time_percent(&self) -> f64 {
        if self.answered == 0 {
            0.0
        } else {
            self.on_time as f64 * 100.0 / self.answered as f64
        }
    }

    fn judged(&self) -> bool {
        self.answered > 0 || self.overdue > 0 || self.instructions_overdue > 0
    }
}

/// Orders bodies best first and returns each with its rank (1 = best). Bodies with nothing
/// to judge yet come last. Best: the highest share on time, then the fewest overdue
/// appeals and instructions, the fewest returns for rework, the quickest answers.
pub fn rank(mut rows: Vec<BodyDiscipline>) -> Vec<(u32, BodyDiscipline)> {
    rows.sort_by(compare);
    rows.into_iter()
        .enumerate()
        .map(|(i, r)| (i as u32 + 1, r))
        .collect()
}

fn compare(a: &BodyDiscipline, b: &BodyDiscipline) -> Ordering {
    b.judged()
        .cmp(&a.judged())
        .then(b.on_time_percent().total_cmp(&a.on_time_percent()))
        .then((a.overdue + a.instructions_overdue).cmp(&(b.overdue + b.instructions_overdue)))
        .then(a.returned_for_rework.cmp(&b.returned_for_rework))
        .then(
            a.average_days_to_answer()
                .total_cmp(&b.average_days_to_answer()),
        )
        .then(a.body.cmp(&b.body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn body(
        code: &str,
        answered: u64,
        on_time: u64,
        overdue: u64,
        returned: u64,
    ) -> BodyDiscipline {
        BodyDiscipline {
            body: code.into(),
            assigned: answered + overdue,
            answered,
            on_time,
            late: answered - on_time,
            overdue,
            returned_for_rework: returned,
            answer_days: answered * 10,
            ..Default::default()
        }
    }

    #[test]
    fn ranking_puts_punctual_bodies_first_and_idle_ones_last() {
        let ranked = rank(vec![
            body("akimat.talgar", 10, 6, 2, 1),
            body("akimat.ile", 10, 9, 0, 3),
            body("akimat.kegen", 0, 0, 0, 0),
            body("akimat.uigur", 10, 9, 1, 0),
        ]);
        let order: Vec<_> = ranked.iter().map(|(r, b)| (*r, b.body.as_str())).collect();
        assert_eq!(
            order,
            vec![
                (1, "akimat.ile"),
                (2, "akimat.uigur"),
                (3, "akimat.talgar"),
                (4, "akimat.kegen")
            ]
        );
        assert!((ranked[2].1.on_time_percent() - 60.0).abs() < 1e-9);
        assert!((ranked[0].1.average_days_to_answer() - 10.0).abs() < 1e-9);
    }

    proptest! {
        #[test]
        fn ranks_are_1_to_n_and_input_order_does_not_matter(
            v in proptest::collection::vec((0u64..20, 0u64..20, 0u64..5, 0u64..5), 0..12)
        ) {
            let rows: Vec<_> = v.iter().enumerate()
                .map(|(i, (a, o, ov, r))| body(&format!("b{i}"), *a, (*o).min(*a), *ov, *r))
                .collect();
            let mut reversed = rows.clone();
            reversed.reverse();
            let a = rank(rows);
            let b = rank(reversed);
            prop_assert_eq!(&a, &b);
            for (i, (r, _)) in a.iter().enumerate() { prop_assert_eq!(*r as usize, i + 1); }
        }
    }
}
