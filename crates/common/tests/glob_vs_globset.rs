//! `oxmon_common::glob` against `globset`, whose syntax oxmon 0.1 accepted for `agent_pattern`: every
//! pattern globset accepts is accepted here and matches exactly the same agent ids.

use oxmon_common::glob::Glob;
use proptest::prelude::*;

fn globset_match(pattern: &str, text: &str) -> Option<bool> {
    let glob = globset::Glob::new(pattern).ok()?;
    Some(glob.compile_matcher().is_match(std::path::Path::new(text)))
}

fn agree(pattern: &str, text: &str) -> Result<(), TestCaseError> {
    if let Some(expected) = globset_match(pattern, text) {
        let ours = Glob::new(pattern).map_err(|e| TestCaseError::fail(format!("{pattern:?} refused: {e}")))?;
        prop_assert_eq!(ours.is_match(text), expected, "pattern {:?} on {:?}", pattern, text);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn same_answers_as_globset(
        pattern in proptest::collection::vec(prop_oneof![
            Just("a"), Just("b"), Just("-"), Just("1"), Just("*"), Just("?"), Just("["), Just("]"),
            Just("!"), Just("^"), Just("{"), Just("}"), Just(","), Just("\\"), Just("[a-b]"), Just("[!1]"),
            Just("{a,b-}"), Just("."),
        ], 0..8).prop_map(|parts| parts.concat()),
        text in "[ab1.\\-*?\\[\\]!^{},]{0,6}",
    ) {
        agree(&pattern, &text)?;
    }
}

#[test]
fn the_patterns_people_write() {
    let patterns =
        ["*", "web-*", "web-??", "*-prod-*", "web-[0-9]*", "web-[!0-9]*", "{web,db}-*", "db-0[1-3]", "[]a]*"];
    let ids = ["web-01", "web-1", "db-02", "db-04", "cache-prod-1", "web-a", "]x", "a", ""];
    for p in patterns {
        for id in ids {
            agree(p, id).unwrap();
        }
    }
}
