//! The subset of the QBO query language the simulator understands: `SELECT * | count(*) FROM
//! entity [WHERE cond AND ...] [ORDERBY field [ASC|DESC]] [STARTPOSITION n] [MAXRESULTS n]`, with
//! `= < > <= >= IN`, single-quoted strings with backslash escapes, `true`, `false` and numbers.
//! Keywords and field names are case-insensitive, as in QBO.

/// A parsed statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// `count(*)` rather than `*`.
    pub count: bool,
    /// The entity as written.
    pub entity: String,
    /// Conditions, all of which must hold.
    pub conditions: Vec<Condition>,
    /// `ORDERBY` field (lower-cased) and whether descending.
    pub order_by: Option<(String, bool)>,
    /// `STARTPOSITION`, if given.
    pub start_position: Option<u64>,
    /// `MAXRESULTS`, if given.
    pub max_results: Option<u64>,
}

/// One condition: `field op value` or `field IN (values)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The field, lower-cased (`metadata.lastupdatedtime`).
    pub field: String,
    /// The operator.
    pub op: Op,
    /// One value, or several for `IN`.
    pub values: Vec<Literal>,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
    /// `IN`
    In,
}

/// A literal value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    /// A quoted string, unescaped.
    Str(String),
    /// `true` or `false`.
    Bool(bool),
    /// A bare number, as written.
    Num(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Str(String),
    Sym(&'static str),
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '\'' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    None => return Err("a string literal is not closed".into()),
                    Some('\\') => match chars.next() {
                        Some(e) => s.push(e),
                        None => return Err("a string literal ends in a backslash".into()),
                    },
                    Some('\'') => break,
                    Some(other) => s.push(other),
                }
            }
            tokens.push(Token::Str(s));
        } else if "(),*".contains(c) {
            chars.next();
            tokens.push(Token::Sym(match c {
                '(' => "(",
                ')' => ")",
                ',' => ",",
                _ => "*",
            }));
        } else if "<>=".contains(c) {
            chars.next();
            let two = chars.peek() == Some(&'=');
            if two {
                chars.next();
            }
            tokens.push(Token::Sym(match (c, two) {
                ('<', true) => "<=",
                ('>', true) => ">=",
                ('<', false) => "<",
                ('>', false) => ">",
                _ => "=",
            }));
        } else if c.is_alphanumeric() || "_.-:+".contains(c) {
            let mut w = String::new();
            while let Some(&d) = chars.peek() {
                if d.is_alphanumeric() || "_.-:+".contains(d) {
                    w.push(d);
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push(Token::Word(w));
        } else {
            return Err(format!("unexpected character {c:?}"));
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn keyword(&mut self, kw: &str) -> bool {
        if let Some(Token::Word(w)) = self.peek()
            && w.eq_ignore_ascii_case(kw)
        {
            self.at += 1;
            return true;
        }
        false
    }

    fn expect_keyword(&mut self, kw: &str) -> Result<(), String> {
        if self.keyword(kw) { Ok(()) } else { Err(format!("expected {kw}")) }
    }

    fn expect_sym(&mut self, sym: &str) -> Result<(), String> {
        match self.next() {
            Some(Token::Sym(s)) if s == sym => Ok(()),
            _ => Err(format!("expected {sym}")),
        }
    }

    fn word(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Token::Word(w)) => Ok(w),
            _ => Err("expected a name".into()),
        }
    }

    fn number(&mut self) -> Result<u64, String> {
        self.word()?.parse().map_err(|_| "expected a number".to_string())
    }

    fn literal(&mut self) -> Result<Literal, String> {
        match self.next() {
            Some(Token::Str(s)) => Ok(Literal::Str(s)),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => Ok(Literal::Bool(true)),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => Ok(Literal::Bool(false)),
            Some(Token::Word(w)) if w.chars().all(|c| c.is_ascii_digit() || c == '.') => {
                Ok(Literal::Num(w))
            }
            _ => Err("expected a value".into()),
        }
    }

    fn condition(&mut self) -> Result<Condition, String> {
        let field = self.word()?.to_ascii_lowercase();
        if self.keyword("IN") {
            self.expect_sym("(")?;
            let mut values = vec![self.literal()?];
            loop {
                match self.next() {
                    Some(Token::Sym(",")) => values.push(self.literal()?),
                    Some(Token::Sym(")")) => break,
                    _ => return Err("expected , or ) in IN (...)".into()),
                }
            }
            return Ok(Condition { field, op: Op::In, values });
        }
        let op = match self.next() {
            Some(Token::Sym("=")) => Op::Eq,
            Some(Token::Sym("<")) => Op::Lt,
            Some(Token::Sym(">")) => Op::Gt,
            Some(Token::Sym("<=")) => Op::Le,
            Some(Token::Sym(">=")) => Op::Ge,
            _ => return Err(format!("expected an operator after {field}")),
        };
        Ok(Condition { field, op, values: vec![self.literal()?] })
    }
}

/// Parses a statement; the error says what QBO's parser would complain about.
pub fn parse(text: &str) -> Result<Statement, String> {
    let mut p = Parser { tokens: tokenize(text)?, at: 0 };
    p.expect_keyword("SELECT")?;
    let count = if p.keyword("count") {
        p.expect_sym("(")?;
        p.expect_sym("*")?;
        p.expect_sym(")")?;
        true
    } else {
        p.expect_sym("*")?;
        false
    };
    p.expect_keyword("FROM")?;
    let entity = p.word()?;
    let mut conditions = Vec::new();
    if p.keyword("WHERE") {
        conditions.push(p.condition()?);
        while p.keyword("AND") {
            conditions.push(p.condition()?);
        }
        if let Some(Token::Word(w)) = p.peek()
            && w.eq_ignore_ascii_case("OR")
        {
            return Err("OR is not supported".into());
        }
    }
    let mut order_by = None;
    if p.keyword("ORDERBY") || (p.keyword("ORDER") && p.keyword("BY")) {
        let field = p.word()?.to_ascii_lowercase();
        let desc = if p.keyword("DESC") {
            true
        } else {
            p.keyword("ASC");
            false
        };
        order_by = Some((field, desc));
    }
    let start_position = if p.keyword("STARTPOSITION") { Some(p.number()?) } else { None };
    let max_results = if p.keyword("MAXRESULTS") { Some(p.number()?) } else { None };
    if let Some(t) = p.peek() {
        return Err(format!("unexpected {t:?} at the end of the statement"));
    }
    Ok(Statement { count, entity, conditions, order_by, start_position, max_results })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_client_writes() {
        let s = parse(
            "SELECT * FROM Class WHERE Name = 'O\\'Brien\\'s' AND Active IN (true, false) \
             STARTPOSITION 1 MAXRESULTS 1000",
        )
        .unwrap();
        assert_eq!(s.entity, "Class");
        assert_eq!(s.conditions[0].values, [Literal::Str("O'Brien's".into())]);
        assert_eq!(s.conditions[1].op, Op::In);
        assert_eq!(s.max_results, Some(1000));
    }

    #[test]
    fn an_injected_quote_stays_inside_the_string() {
        let s = parse(r"SELECT * FROM Class WHERE Name = 'x\' OR Name = \'y'").unwrap();
        assert_eq!(s.conditions.len(), 1);
        assert_eq!(s.conditions[0].values, [Literal::Str("x' OR Name = 'y".into())]);
        assert!(parse("SELECT * FROM Class WHERE Name = 'x' OR Name = 'y'").is_err());
    }

    #[test]
    fn order_by_and_count() {
        let s = parse("select count(*) from Invoice where Metadata.LastUpdatedTime >= '2024-01-01T00:00:00+00:00' order by Metadata.LastUpdatedTime desc").unwrap();
        assert!(s.count);
        assert_eq!(s.order_by, Some(("metadata.lastupdatedtime".into(), true)));
        assert_eq!(s.conditions[0].op, Op::Ge);
    }
}
