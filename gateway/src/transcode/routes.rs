//! `google.api.http` path templates and the route table built from them.
//!
//! Grammar (google/api/http.proto):
//!
//! ```text
//! Template = "/" Segments [ Verb ] ;
//! Segments = Segment { "/" Segment } ;
//! Segment  = "*" | "**" | LITERAL | Variable ;
//! Variable = "{" FieldPath [ "=" Segments ] "}" ;
//! FieldPath = IDENT { "." IDENT } ;
//! Verb     = ":" LITERAL ;
//! ```
//!
//! `**` may only be the last segment (as the spec requires), which keeps matching linear and
//! the overlap check exact. When several templates match a request, the most specific wins:
//! segment by segment from the left, a literal beats `*`, which beats `**`; then a template with
//! a verb beats one without. Two templates of one HTTP method that can match the same request
//! and rank equally are ambiguous: [`RouteTable::ambiguities`] lists them and a unit test keeps
//! the table free of them.

use std::cmp::Ordering;

use percent_encoding::percent_decode_str;

/// One segment of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    /// `*`: exactly one segment.
    Any,
    /// `**`: zero or more segments (last segment only).
    Rest,
}

/// A `{field.path=...}` binding over a range of segments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variable {
    /// Proto field names, outermost first (`profile.display_name`).
    pub field_path: Vec<String>,
    pub start: usize,
    /// One past the last segment.
    pub end: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub segments: Vec<Segment>,
    pub variables: Vec<Variable>,
    pub verb: Option<String>,
    /// As written in the proto.
    pub source: String,
}

impl Template {
    pub fn parse(source: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("path template {source:?}: {why}");
        let rest = source
            .strip_prefix('/')
            .ok_or_else(|| bad("must start with /"))?;
        // The verb is a `:` after the last `/` and outside braces.
        let (body, verb) = split_verb(rest);
        if verb.is_some_and(|v| v.is_empty() || v.contains(['/', '{', '}', '*'])) {
            return Err(bad("bad verb"));
        }
        let mut segments = Vec::new();
        let mut variables = Vec::new();
        let mut chars = body;
        loop {
            if let Some(inner) = chars.strip_prefix('{') {
                let close = inner.find('}').ok_or_else(|| bad("unclosed {"))?;
                let (spec, after) = inner.split_at(close);
                let after = after.get(1..).unwrap_or("");
                let (path, sub) = match spec.split_once('=') {
                    Some((p, s)) => (p, s),
                    None => (spec, "*"),
                };
                let field_path: Vec<String> = path.split('.').map(str::to_owned).collect();
                if field_path.iter().any(|p| !is_ident(p)) {
                    return Err(bad("bad field path in variable"));
                }
                if variables
                    .iter()
                    .any(|v: &Variable| v.field_path == field_path)
                {
                    return Err(bad("a field is bound twice"));
                }
                let start = segments.len();
                for s in sub.split('/') {
                    segments.push(plain_segment(s).ok_or_else(|| bad("bad segment in variable"))?);
                }
                variables.push(Variable {
                    field_path,
                    start,
                    end: segments.len(),
                });
                chars = after;
            } else {
                let end = chars.find('/').unwrap_or(chars.len());
                let (seg, _) = chars.split_at(end);
                if seg.contains(['{', '}']) {
                    return Err(bad("a variable must be a whole segment"));
                }
                segments.push(plain_segment(seg).ok_or_else(|| bad("empty segment"))?);
                chars = chars.get(end..).unwrap_or("");
            }
            match chars.strip_prefix('/') {
                Some(next) => chars = next,
                None if chars.is_empty() => break,
                None => return Err(bad("a variable must be a whole segment")),
            }
        }
        if let Some(pos) = segments.iter().position(|s| *s == Segment::Rest)
            && pos + 1 != segments.len()
        {
            return Err(bad("** must be the last segment"));
        }
        Ok(Self {
            segments,
            variables,
            verb: verb.map(str::to_owned),
            source: source.to_owned(),
        })
    }

    /// The variables' values if `path` (the request's, still percent-encoded, without the
    /// query) matches: `(field path, value)`. A single-segment variable's value is fully
    /// percent-decoded; a multi-segment one keeps `%2F` as written (the spec's rule).
    pub fn matches(&self, path: &str) -> Option<Vec<(&[String], String)>> {
        let rest = path.strip_prefix('/')?;
        let rest = match &self.verb {
            Some(v) => rest.strip_suffix(v.as_str())?.strip_suffix(':')?,
            None => rest,
        };
        // Most templates differ in length from the path: refuse those before any allocation.
        let count = if rest.is_empty() {
            0
        } else {
            rest.bytes().filter(|b| *b == b'/').count() + 1
        };
        let fixed = self.segments.len();
        if self.segments.last() == Some(&Segment::Rest) {
            if count + 1 < fixed {
                return None;
            }
        } else if count != fixed {
            return None;
        }
        let parts: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        let mut spans: Vec<(usize, usize)> = Vec::with_capacity(self.segments.len());
        let mut i = 0usize;
        for seg in &self.segments {
            match seg {
                Segment::Literal(l) => {
                    let p = parts.get(i)?;
                    if decode(p)? != *l {
                        return None;
                    }
                    spans.push((i, i + 1));
                    i += 1;
                }
                Segment::Any => {
                    let p = parts.get(i)?;
                    if p.is_empty() {
                        return None;
                    }
                    spans.push((i, i + 1));
                    i += 1;
                }
                Segment::Rest => {
                    spans.push((i, parts.len()));
                    i = parts.len();
                }
            }
        }
        if i != parts.len() {
            return None;
        }
        let mut values = Vec::with_capacity(self.variables.len());
        for v in &self.variables {
            let from = spans.get(v.start)?.0;
            let to = v
                .end
                .checked_sub(1)
                .and_then(|last| spans.get(last))
                .map_or(from, |s| s.1);
            let raw = parts.get(from..to)?;
            let value = if to == from + 1 && self.segments.get(v.start) != Some(&Segment::Rest) {
                decode(raw.first()?)?
            } else {
                raw.iter()
                    .map(|p| decode_keep_slash(p))
                    .collect::<Option<Vec<_>>>()?
                    .join("/")
            };
            values.push((v.field_path.as_slice(), value));
        }
        Some(values)
    }

    /// Precedence key: larger is more specific (see the module docs).
    fn rank(&self) -> Vec<u8> {
        let mut key: Vec<u8> = self
            .segments
            .iter()
            .map(|s| match s {
                Segment::Literal(_) => 4,
                Segment::Any => 3,
                Segment::Rest => 1,
            })
            .collect();
        // Ending here beats `**` going on over zero or more segments.
        key.push(2);
        key.push(u8::from(self.verb.is_some()));
        key
    }

    /// Whether some request path matches both templates (exactly: `**` is last-only).
    pub fn overlaps(&self, other: &Template) -> bool {
        match (&self.verb, &other.verb) {
            (Some(a), Some(b)) if a != b => return false,
            (Some(v), None) => return other.could_end_with_verb(&self.segments, v),
            (None, Some(v)) => return self.could_end_with_verb(&other.segments, v),
            _ => {}
        }
        segments_overlap(&self.segments, &other.segments)
    }

    /// Whether `self` (no verb) can match a path that `with_verb` (segments + `:verb`) matches:
    /// the last segment of such a path ends in `:verb`, which only a wildcard of `self` (or a
    /// literal spelled with the verb) can take.
    fn could_end_with_verb(&self, with_verb: &[Segment], verb: &str) -> bool {
        let mut suffixed = with_verb.to_vec();
        match suffixed.last_mut() {
            Some(Segment::Literal(l)) => {
                l.push(':');
                l.push_str(verb);
            }
            Some(_) => {}
            None => return false,
        }
        segments_overlap(&self.segments, &suffixed)
    }

    /// Whether `self` wins over `other` on a request both match.
    pub fn outranks(&self, other: &Template) -> Ordering {
        self.rank().cmp(&other.rank())
    }
}

fn segments_overlap(a: &[Segment], b: &[Segment]) -> bool {
    let mut i = 0;
    loop {
        match (a.get(i), b.get(i)) {
            (None, None) => return true,
            (Some(Segment::Rest), _) | (_, Some(Segment::Rest)) => return true,
            (None, Some(_)) | (Some(_), None) => return false,
            (Some(Segment::Literal(x)), Some(Segment::Literal(y))) if x != y => return false,
            _ => {}
        }
        i += 1;
    }
}

fn split_verb(rest: &str) -> (&str, Option<&str>) {
    // The tail after the last `/` (which may sit inside a `{name=a/**}` binding).
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let tail = rest.get(last_slash..).unwrap_or("");
    match tail.rfind(':') {
        Some(c) if !tail.ends_with('}') => {
            let at = last_slash + c;
            (rest.get(..at).unwrap_or(""), rest.get(at + 1..))
        }
        _ => (rest, None),
    }
}

fn plain_segment(s: &str) -> Option<Segment> {
    match s {
        "" => None,
        "*" => Some(Segment::Any),
        "**" => Some(Segment::Rest),
        lit if lit.contains(['{', '}', '*', '=']) => None,
        lit => Some(Segment::Literal(lit.to_owned())),
    }
}

fn is_ident(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn decode(s: &str) -> Option<String> {
    percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Decodes everything but `%2F`, which stays escaped inside a multi-segment value.
fn decode_keep_slash(s: &str) -> Option<String> {
    let parts: Option<Vec<String>> = split_ci(s, "%2F").into_iter().map(decode).collect();
    parts.map(|p| p.join("%2F"))
}

fn split_ci<'a>(s: &'a str, sep: &str) -> Vec<&'a str> {
    let lower = s.to_ascii_lowercase();
    let sep = sep.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(pos) = lower.get(from..).and_then(|t| t.find(&sep)) {
        out.push(s.get(from..from + pos).unwrap_or(""));
        from += pos + sep.len();
    }
    out.push(s.get(from..).unwrap_or(""));
    out
}

/// A route: an HTTP method and template bound to a gRPC method, with its body rules.
#[derive(Clone, Debug)]
pub struct Route {
    pub method: http::Method,
    pub template: Template,
    /// `/pkg.Service/Method`.
    pub grpc_path: String,
    /// `""` (no body), `"*"` or a top-level field name.
    pub body: String,
    /// `""` (the whole response) or a top-level field name.
    pub response_body: String,
}

/// Every route, matched in precedence order.
#[derive(Clone, Debug, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

/// What a request path and method find.
pub enum Lookup<'a> {
    Found(&'a Route, Vec<(&'a [String], String)>),
    /// The path matches routes, but none of this method: the methods that would do.
    WrongMethod(Vec<http::Method>),
    NotFound,
}

impl RouteTable {
    pub fn new(mut routes: Vec<Route>) -> Self {
        // Most specific first, so the first match wins.
        routes.sort_by(|a, b| b.template.outranks(&a.template));
        Self { routes }
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    pub fn lookup(&self, method: &http::Method, path: &str) -> Lookup<'_> {
        let mut allowed: Vec<http::Method> = Vec::new();
        for r in &self.routes {
            if let Some(values) = r.template.matches(path) {
                if r.method == method {
                    return Lookup::Found(r, values);
                }
                if !allowed.contains(&r.method) {
                    allowed.push(r.method.clone());
                }
            }
        }
        if allowed.is_empty() {
            Lookup::NotFound
        } else {
            Lookup::WrongMethod(allowed)
        }
    }

    /// Every pair of routes of different gRPC methods (same HTTP method) that some request
    /// matches both of, the winner first: `("GET /a/b", "GET /a/{x}")`.
    pub fn overlaps(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, a) in self.routes.iter().enumerate() {
            for b in self.routes.iter().skip(i + 1) {
                if a.method == b.method
                    && a.grpc_path != b.grpc_path
                    && a.template.overlaps(&b.template)
                {
                    // Sorted most specific first, so `a` wins.
                    out.push((
                        format!("{} {}", a.method, a.template.source),
                        format!("{} {}", b.method, b.template.source),
                    ));
                }
            }
        }
        out
    }

    /// Pairs of routes (same HTTP method) that can match one request without either being
    /// more specific: `(template, gRPC method)` of each.
    pub fn ambiguities(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, a) in self.routes.iter().enumerate() {
            for b in self.routes.iter().skip(i + 1) {
                if a.method == b.method
                    && a.template.overlaps(&b.template)
                    && a.template.outranks(&b.template) == Ordering::Equal
                {
                    out.push((
                        format!("{} {} ({})", a.method, a.template.source, a.grpc_path),
                        format!("{} {} ({})", b.method, b.template.source, b.grpc_path),
                    ));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Template {
        Template::parse(s).unwrap()
    }

    fn vars(tpl: &str, path: &str) -> Option<Vec<(String, String)>> {
        t(tpl)
            .matches(path)
            .map(|v| v.into_iter().map(|(f, x)| (f.join("."), x)).collect())
    }

    #[test]
    fn templates_parse() {
        let x = t("/v1/{name=shelves/*/books/**}:publish");
        assert_eq!(x.verb.as_deref(), Some("publish"));
        assert_eq!(
            x.segments,
            vec![
                Segment::Literal("v1".into()),
                Segment::Literal("shelves".into()),
                Segment::Any,
                Segment::Literal("books".into()),
                Segment::Rest
            ]
        );
        assert_eq!(x.variables[0].start, 1);
        assert_eq!(x.variables[0].end, 5);
        let y = t("/api/v1/users/{user.id}/roles");
        assert_eq!(y.variables[0].field_path, vec!["user", "id"]);
        assert_eq!(y.variables[0].start, 3);
        assert_eq!(t("/a/{id}").verb, None);
        for bad in [
            "a/b",
            "/a/{id",
            "/a/{}",
            "/a/{1x}",
            "/a/x{id}",
            "/a/**/b",
            "/a//b",
            "/a/{id}/{id}",
            "/a:",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn templates_match_and_bind() {
        assert_eq!(
            vars(
                "/api/v1/sessions/{session_id}/complete",
                "/api/v1/sessions/abc/complete"
            ),
            Some(vec![("session_id".into(), "abc".into())])
        );
        assert_eq!(
            vars(
                "/api/v1/sessions/{session_id}/complete",
                "/api/v1/sessions//complete"
            ),
            None
        );
        assert_eq!(vars("/api/v1/me", "/api/v1/me/"), None);
        assert_eq!(vars("/api/v1/me", "/api/v1/me"), Some(vec![]));
        // Percent-decoding of single-segment values.
        assert_eq!(
            vars("/a/{x}", "/a/hello%20world%2Fx"),
            Some(vec![("x".into(), "hello world/x".into())])
        );
        // Multi-segment bindings keep the slashes, and %2F stays escaped.
        assert_eq!(
            vars("/v1/{name=shelves/*/books/*}", "/v1/shelves/s1/books/b%2F2"),
            Some(vec![("name".into(), "shelves/s1/books/b%2F2".into())])
        );
        assert_eq!(vars("/v1/{name=shelves/*}", "/v1/books/s1"), None);
        assert_eq!(
            vars("/files/{path=**}", "/files/a/b/c"),
            Some(vec![("path".into(), "a/b/c".into())])
        );
        assert_eq!(
            vars("/files/{path=**}", "/files"),
            Some(vec![("path".into(), "".into())])
        );
        // Verbs.
        assert_eq!(
            vars("/ids/{id}:setPrimary", "/ids/7:setPrimary"),
            Some(vec![("id".into(), "7".into())])
        );
        assert_eq!(vars("/ids/{id}:setPrimary", "/ids/7"), None);
        assert_eq!(vars("/ids/{id}:setPrimary", "/ids/7:other"), None);
        // Nested fields.
        assert_eq!(
            vars("/u/{user.id}", "/u/42"),
            Some(vec![("user.id".into(), "42".into())])
        );
        // Invalid UTF-8 after decoding matches nothing.
        assert_eq!(vars("/a/{x}", "/a/%FF"), None);
    }

    fn route(method: http::Method, tpl: &str, grpc: &str) -> Route {
        Route {
            method,
            template: t(tpl),
            grpc_path: grpc.into(),
            body: String::new(),
            response_body: String::new(),
        }
    }

    #[test]
    fn literal_segments_win_over_variables() {
        use http::Method as M;
        let table = RouteTable::new(vec![
            route(M::GET, "/c/{id}", "/S/Get"),
            route(M::GET, "/c/leaders", "/S/Leaders"),
            route(M::GET, "/c/{id}/{rest=**}", "/S/Rest"),
            route(M::POST, "/c/{id}:join", "/S/Join"),
            route(M::POST, "/c/{id}", "/S/Update"),
        ]);
        let found = |m: &http::Method, p: &str| match table.lookup(m, p) {
            Lookup::Found(r, _) => r.grpc_path.clone(),
            Lookup::WrongMethod(a) => format!("405 {a:?}"),
            Lookup::NotFound => "404".into(),
        };
        assert_eq!(found(&M::GET, "/c/leaders"), "/S/Leaders");
        assert_eq!(found(&M::GET, "/c/123"), "/S/Get");
        assert_eq!(found(&M::GET, "/c/123/x/y"), "/S/Rest");
        assert_eq!(found(&M::POST, "/c/1:join"), "/S/Join");
        assert_eq!(found(&M::POST, "/c/1"), "/S/Update");
        assert_eq!(found(&M::DELETE, "/c/1"), "405 [GET, POST]");
        assert_eq!(found(&M::GET, "/nope"), "404");
        assert!(table.ambiguities().is_empty());
        // Ranked, but still overlaps between methods, the winner first.
        let o = table.overlaps();
        assert!(
            o.contains(&("GET /c/leaders".into(), "GET /c/{id}".into())),
            "{o:?}"
        );
        assert!(
            o.contains(&("GET /c/{id}".into(), "GET /c/{id}/{rest=**}".into())),
            "{o:?}"
        );
        assert!(
            o.contains(&("POST /c/{id}:join".into(), "POST /c/{id}".into())),
            "{o:?}"
        );
        assert_eq!(o.len(), 4, "{o:?}");
    }

    #[test]
    fn overlaps_are_found_beyond_string_equality() {
        let amb = |a: &str, b: &str| {
            RouteTable::new(vec![
                route(http::Method::GET, a, "/S/A"),
                route(http::Method::GET, b, "/S/B"),
            ])
            .ambiguities()
            .len()
        };
        assert_eq!(amb("/a/{x}", "/a/{y}"), 1);
        assert_eq!(amb("/a/{x}/b", "/a/{y=*}/b"), 1);
        assert_eq!(amb("/a/{x=**}", "/a/{y=**}"), 1);
        assert_eq!(amb("/a/b", "/a/b"), 1);
        // Ranked: the literal wins, or one cannot match what the other does.
        assert_eq!(amb("/a/{x}", "/a/b"), 0);
        assert_eq!(amb("/a/{x}", "/a/{x}/c"), 0);
        assert_eq!(amb("/a/{x}", "/b/{x}"), 0);
        assert_eq!(amb("/a/{x}:v", "/a/{x}:w"), 0);
        // Different methods never collide.
        assert_eq!(
            RouteTable::new(vec![
                route(http::Method::GET, "/a/{x}", "/S/A"),
                route(http::Method::POST, "/a/{y}", "/S/B"),
            ])
            .ambiguities()
            .len(),
            0
        );
        // Overlap itself, for the ranked cases.
        assert!(t("/a/{x}").overlaps(&t("/a/b")));
        assert!(t("/a/{x=**}").overlaps(&t("/a/b/c")));
        assert!(!t("/a/{x}").overlaps(&t("/a/b/c")));
        assert!(t("/a/{x}").overlaps(&t("/a/{y}:v")));
        assert!(!t("/a/b").overlaps(&t("/a/b:v")));
    }
}
