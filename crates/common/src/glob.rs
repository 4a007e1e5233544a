//! Agent-id globs (`agent_pattern`): `*`, `?`, `[...]` classes (`[!...]` or `[^...]` negated, `a-z`
//! ranges), `{a,b}` alternatives and `\` escapes: the syntax oxmon 0.1 took from `globset`, matched
//! here without a regex engine (the agent and the server then need none). Agent ids hold no path
//! separators, so `*` and `?` match any character; a run of `*` is one `*`.

use std::fmt;

/// At most this many expansions of `{...}` alternatives per pattern.
const MAX_ALTERNATIVES: usize = 1024;

/// A compiled glob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    /// One token sequence per expansion of the pattern's alternatives.
    alternatives: Vec<Vec<Token>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `?`
    AnyChar,
    /// `*`
    AnySequence,
    /// `[...]`
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// Why a pattern is not a glob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GlobError {
    UnclosedClass,
    UnclosedAlternatives,
    DanglingEscape,
    InvalidRange(char, char),
    TooManyAlternatives,
}

impl fmt::Display for GlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GlobError::UnclosedClass => f.write_str("unclosed character class; missing ']'"),
            GlobError::UnclosedAlternatives => f.write_str("unclosed alternate group; missing '}'"),
            GlobError::DanglingEscape => f.write_str("dangling '\\'"),
            GlobError::InvalidRange(a, b) => write!(f, "invalid range; '{a}' > '{b}'"),
            GlobError::TooManyAlternatives => {
                write!(f, "more than {MAX_ALTERNATIVES} combinations of alternatives")
            }
        }
    }
}

impl std::error::Error for GlobError {}

impl Glob {
    pub fn new(pattern: &str) -> Result<Glob, GlobError> {
        let (mut alternatives, _) = parse_sequence(&mut pattern.chars().peekable(), false)?;
        for alternative in &mut alternatives {
            alternative.dedup_by(|b, a| *a == Token::AnySequence && *b == Token::AnySequence);
        }
        Ok(Glob { alternatives })
    }

    pub fn is_match(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        self.alternatives.iter().any(|tokens| matches(tokens, &text))
    }
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

/// Tokens up to the end of the pattern, or, inside `{...}` (`nested`), up to the `,` or `}` that
/// ends the branch (returned). Alternatives are expanded: one token sequence per combination.
fn parse_sequence(chars: &mut Chars<'_>, nested: bool) -> Result<(Vec<Vec<Token>>, Option<char>), GlobError> {
    let mut expansions = vec![Vec::new()];
    while let Some(c) = chars.next() {
        match c {
            ',' | '}' if nested => return Ok((expansions, Some(c))),
            '{' => {
                let group = parse_group(chars)?;
                let mut next = Vec::with_capacity(expansions.len() * group.len());
                for prefix in &expansions {
                    for branch in &group {
                        next.push([prefix.as_slice(), branch.as_slice()].concat());
                    }
                }
                if next.len() > MAX_ALTERNATIVES {
                    return Err(GlobError::TooManyAlternatives);
                }
                expansions = next;
            }
            _ => {
                let token = parse_token(c, chars)?;
                for expansion in &mut expansions {
                    expansion.push(token.clone());
                }
            }
        }
    }
    if nested { Err(GlobError::UnclosedAlternatives) } else { Ok((expansions, None)) }
}

/// After `{`: the expansions of every branch up to the closing `}`. Groups may nest; as in globset,
/// empty branches are dropped unless every branch is empty (`{a,}` is `a`).
fn parse_group(chars: &mut Chars<'_>) -> Result<Vec<Vec<Token>>, GlobError> {
    let mut all = Vec::new();
    loop {
        let (branch, end) = parse_sequence(chars, true)?;
        all.extend(branch);
        if all.len() > MAX_ALTERNATIVES {
            return Err(GlobError::TooManyAlternatives);
        }
        if end == Some('}') {
            break;
        }
    }
    if all.iter().any(|e| !e.is_empty()) {
        all.retain(|e| !e.is_empty());
    } else {
        all.truncate(1);
    }
    Ok(all)
}

fn parse_token(c: char, chars: &mut Chars<'_>) -> Result<Token, GlobError> {
    Ok(match c {
        '?' => Token::AnyChar,
        '*' => Token::AnySequence,
        '[' => parse_class(chars)?,
        '\\' => Token::Literal(chars.next().ok_or(GlobError::DanglingEscape)?),
        c => Token::Literal(c),
    })
}

/// After `[`: the class up to its `]`, read as globset reads it: a `]` or `-` first (after `!`/`^`)
/// is a member, `\` is a plain member, `x-y` is a range, and a `-z` right after a range extends it
/// (`[a-b-c]` is `[a-c]`); a `-` last is a member.
fn parse_class(chars: &mut Chars<'_>) -> Result<Token, GlobError> {
    let negated = matches!(chars.peek(), Some('!' | '^'));
    if negated {
        chars.next();
    }
    let mut ranges: Vec<(char, char)> = Vec::new();
    let (mut first, mut in_range) = (true, false);
    loop {
        match chars.next().ok_or(GlobError::UnclosedClass)? {
            ']' if !first => break,
            '-' if !first && !in_range => in_range = true,
            c => match ranges.last_mut() {
                Some(last) if in_range => {
                    if last.0 > c {
                        return Err(GlobError::InvalidRange(last.0, c));
                    }
                    last.1 = c;
                    in_range = false;
                }
                _ => ranges.push((c, c)),
            },
        }
        first = false;
    }
    if in_range {
        ranges.push(('-', '-'));
    }
    Ok(Token::Class { negated, ranges })
}

fn token_matches(token: &Token, c: char) -> bool {
    match token {
        Token::Literal(l) => *l == c,
        Token::AnyChar => true,
        Token::Class { negated, ranges } => ranges.iter().any(|&(a, b)| a <= c && c <= b) != *negated,
        Token::AnySequence => unreachable!("handled by the matcher"),
    }
}

/// Wildcard matching with backtracking to the last `*` only: every other token takes exactly one
/// character, so this is complete and at worst O(pattern x text).
fn matches(tokens: &[Token], text: &[char]) -> bool {
    let (mut t, mut s) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while s < text.len() {
        match tokens.get(t) {
            Some(Token::AnySequence) => {
                star = Some((t, s));
                t += 1;
            }
            Some(token) if token_matches(token, text[s]) => {
                t += 1;
                s += 1;
            }
            _ => match star {
                Some((star_t, star_s)) => {
                    t = star_t + 1;
                    s = star_s + 1;
                    star = Some((star_t, star_s + 1));
                }
                None => return false,
            },
        }
    }
    tokens[t..].iter().all(|token| *token == Token::AnySequence)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, text: &str) -> bool {
        Glob::new(pattern).unwrap().is_match(text)
    }

    #[test]
    fn wildcards_classes_alternatives_and_escapes() {
        assert!(m("*", ""));
        assert!(m("web-*", "web-01"));
        assert!(!m("web-*", "db-01"));
        assert!(m("*-01", "web-01"));
        assert!(m("w*b*1", "web-01"));
        assert!(!m("w*b*2", "web-01"));
        assert!(m("web-??", "web-01"));
        assert!(!m("web-?", "web-01"));
        assert!(m("web-[0-9][0-9]", "web-07"));
        assert!(!m("web-[!0-9]*", "web-07"));
        assert!(m("web-[^a]*", "web-07"));
        assert!(m("[]]", "]"));
        assert!(m("[a-]", "-"));
        assert!(m("{web,db}-*", "db-3"));
        assert!(!m("{web,db}-*", "cache-3"));
        assert!(m("{a,b}{c,d}", "bd"));
        assert!(m("{a,{b,c}d}", "cd"), "groups nest");
        assert!(m("{a,}", "a") && !m("{a,}", ""), "empty branches are dropped");
        assert!(m("[a-b-c]", "c"), "a range extended by -c");
        assert!(m("[a-]", "-") && m("[]-a]", "_"));
        assert!(m(r"a\*", "a*"));
        assert!(!m(r"a\*", "ab"));
        assert!(m("a/*", "a/b/c"), "agent ids have no separators: * takes any character");
        assert!(m("**", "x"));
        assert!(m("节点-*", "节点-1"));
        assert!(!m("a", "A"), "case-sensitive");
    }

    #[test]
    fn malformed_patterns_say_what_is_wrong() {
        assert_eq!(Glob::new("web-[0-9"), Err(GlobError::UnclosedClass));
        assert_eq!(Glob::new("{a,b"), Err(GlobError::UnclosedAlternatives));
        assert_eq!(Glob::new("a\\"), Err(GlobError::DanglingEscape));
        assert_eq!(Glob::new("[z-a]"), Err(GlobError::InvalidRange('z', 'a')));
        assert_eq!(Glob::new(&"{a,b}".repeat(11)), Err(GlobError::TooManyAlternatives));
        assert_eq!(GlobError::UnclosedClass.to_string(), "unclosed character class; missing ']'");
    }
}
