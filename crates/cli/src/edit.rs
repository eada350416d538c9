//! Editing a reference record (a body, a category): read the current one, apply only the
//! options the operator gave, and send the whole record back.

/// The record a lookup found, or `None` when the service says NOT_FOUND (the edit then
/// creates it).
pub fn found<T>(
    reply: Result<tonic::Response<T>, tonic::Status>,
) -> Result<Option<T>, tonic::Status> {
    match reply {
        Ok(r) => Ok(Some(r.into_inner())),
        Err(s) if s.code() == tonic::Code::NotFound => Ok(None),
        Err(s) => Err(s),
    }
}

/// Replaces `field` with the option's value when the option was given.
pub fn replace_if_given(field: &mut String, given: &Option<String>) {
    if let Some(v) = given {
        v.clone_into(field);
    }
}

/// Replaces `list` with the option's values when at least one was given.
pub fn replace_list_if_given(list: &mut Vec<String>, given: &[String]) {
    if !given.is_empty() {
        given.clone_into(list);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_is_none_and_other_errors_stay_errors() {
        assert_eq!(found(Ok(tonic::Response::new(7))).unwrap(), Some(7));
        assert_eq!(
            found::<i32>(Err(tonic::Status::not_found("x"))).unwrap(),
            None
        );
        let e = found::<i32>(Err(tonic::Status::unavailable("down"))).unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unavailable);
    }

    #[test]
    fn only_given_options_replace() {
        let mut name = "old".to_string();
        replace_if_given(&mut name, &None);
        assert_eq!(name, "old");
        replace_if_given(&mut name, &Some("new".into()));
        assert_eq!(name, "new");
        let mut list = vec!["a".to_string()];
        replace_list_if_given(&mut list, &[]);
        assert_eq!(list, ["a"]);
        replace_list_if_given(&mut list, &["b".into(), "c".into()]);
        assert_eq!(list, ["b", "c"]);
    }
}
