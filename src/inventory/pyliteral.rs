//! Python's `ast.literal_eval`, as Ansible's INI plugin applies it to every value:
//! numbers in all of Python's notations (`0x1F`, `0o17`, `0b101`, `1_000`, `1e3`),
//! strings in any quotes with Python escapes (adjacent ones joined), `True`/`False`/
//! `None`, lists, tuples (`1,2`), dicts and sets, `#` comments. Text that is not such a
//! literal is not an error: the caller keeps it as a string, as Ansible does.

use crate::value::{self, python_float_repr};
use num_bigint::BigInt;
use serde_json::{Map, Value};

/// Why text is not a literal.
#[derive(Debug, Clone, PartialEq)]
pub enum LiteralError {
    /// Not a Python literal: Ansible keeps the text as a string.
    NotLiteral,
    /// A list or dict used as a dict key or set item: Python raises TypeError, which
    /// Ansible does not catch (the inventory fails).
    Unhashable,
}

/// Evaluates `text` as Python's `ast.literal_eval` does.
pub fn literal_eval(text: &str) -> Result<Value, LiteralError> {
    let tokens = lex(text.trim_start_matches([' ', '\t'])).ok_or(LiteralError::NotLiteral)?;
    let mut p = Parser { tokens, pos: 0 };
    let v = p.top()?;
    if p.pos != p.tokens.len() {
        return Err(LiteralError::NotLiteral);
    }
    Ok(v.into_value())
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Int(BigInt),
    Float(f64),
    Str(String, bool),
    Name(String),
    Op(char),
}

/// A parsed literal before conversion (keeps what JSON loses: number-ness for unary
/// minus, containers for hashability).
#[derive(Debug, Clone)]
enum Lit {
    Int(BigInt),
    Float(f64),
    Str(String),
    Bool(bool),
    None,
    List(Vec<Lit>),
    Dict(Vec<(Lit, Lit)>),
}

impl Lit {
    fn into_value(self) -> Value {
        match self {
            Lit::Int(i) => value::int_from_digits(&i.to_string()),
            Lit::Float(f) => value::float(f),
            Lit::Str(s) => Value::String(s),
            Lit::Bool(b) => Value::Bool(b),
            Lit::None => Value::Null,
            Lit::List(items) => Value::Array(items.into_iter().map(Lit::into_value).collect()),
            Lit::Dict(pairs) => {
                let mut m = Map::new();
                for (k, v) in pairs {
                    m.insert(k.key_text(), v.into_value());
                }
                Value::Object(m)
            }
        }
    }

    /// A dict key as Python's json.dumps writes it.
    fn key_text(&self) -> String {
        match self {
            Lit::Str(s) => s.clone(),
            Lit::Int(i) => i.to_string(),
            Lit::Float(f) => python_float_repr(*f),
            Lit::Bool(b) => b.to_string(),
            Lit::None => "null".into(),
            other => other.clone().into_value().to_string(),
        }
    }

    fn hashable(&self) -> bool {
        !matches!(self, Lit::Dict(_)) && !matches!(self, Lit::List(_))
    }
}

struct Parser {
    tokens: Vec<Tok>,
    pos: usize,
}

type R<T> = Result<T, LiteralError>;
const NOT: LiteralError = LiteralError::NotLiteral;

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Op(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// The whole expression: a bare `1,2` is a tuple.
    fn top(&mut self) -> R<Lit> {
        let (items, comma) = self.items(None)?;
        match (items.len(), comma) {
            (0, _) => Err(NOT),
            (1, false) => items.into_iter().next().ok_or(NOT),
            _ => Ok(Lit::List(items)),
        }
    }

    /// Comma-separated items up to `close` (or the end); whether a comma was seen.
    fn items(&mut self, close: Option<char>) -> R<(Vec<Lit>, bool)> {
        let mut items = Vec::new();
        let mut comma = false;
        loop {
            let at_end = match self.peek() {
                None => true,
                Some(Tok::Op(c)) => Some(*c) == close,
                _ => false,
            };
            if at_end {
                break;
            }
            items.push(self.item()?);
            if self.eat(',') {
                comma = true;
            } else {
                break;
            }
        }
        Ok((items, comma))
    }

    fn item(&mut self) -> R<Lit> {
        let v = self.signed()?;
        // Binary operators only build complex numbers in literal_eval.
        if matches!(self.peek(), Some(Tok::Op('+' | '-'))) {
            return Err(NOT);
        }
        Ok(v)
    }

    fn signed(&mut self) -> R<Lit> {
        if self.eat('-') {
            return match self.atom()? {
                Lit::Int(i) => Ok(Lit::Int(-i)),
                Lit::Float(f) => Ok(Lit::Float(-f)),
                _ => Err(NOT),
            };
        }
        if self.eat('+') {
            return match self.atom()? {
                n @ (Lit::Int(_) | Lit::Float(_)) => Ok(n),
                _ => Err(NOT),
            };
        }
        self.atom()
    }

    fn atom(&mut self) -> R<Lit> {
        let tok = self.tokens.get(self.pos).cloned().ok_or(NOT)?;
        self.pos += 1;
        match tok {
            Tok::Int(i) => Ok(Lit::Int(i)),
            Tok::Float(f) => Ok(Lit::Float(f)),
            Tok::Str(mut s, bytes) => {
                // Adjacent string literals are one literal (bytes and text do not mix).
                while let Some(Tok::Str(next, b2)) = self.peek() {
                    if *b2 != bytes {
                        return Err(NOT);
                    }
                    s.push_str(next);
                    self.pos += 1;
                }
                Ok(Lit::Str(s))
            }
            Tok::Name(n) => match n.as_str() {
                "True" => Ok(Lit::Bool(true)),
                "False" => Ok(Lit::Bool(false)),
                "None" => Ok(Lit::None),
                _ => Err(NOT),
            },
            Tok::Op('(') => {
                let (items, comma) = self.items(Some(')'))?;
                if !self.eat(')') {
                    return Err(NOT);
                }
                if items.len() == 1 && !comma {
                    items.into_iter().next().ok_or(NOT)
                } else {
                    Ok(Lit::List(items))
                }
            }
            Tok::Op('[') => {
                let (items, _) = self.items(Some(']'))?;
                if !self.eat(']') {
                    return Err(NOT);
                }
                Ok(Lit::List(items))
            }
            Tok::Op('{') => self.dict_or_set(),
            Tok::Op(_) => Err(NOT),
        }
    }

    fn dict_or_set(&mut self) -> R<Lit> {
        if self.eat('}') {
            return Ok(Lit::Dict(Vec::new()));
        }
        let first = self.item()?;
        if self.eat(':') {
            let mut pairs: Vec<(Lit, Lit)> = Vec::new();
            let mut key = first;
            loop {
                let v = self.item()?;
                if !key.hashable() {
                    return Err(LiteralError::Unhashable);
                }
                let text = key.key_text();
                pairs.retain(|(k, _)| k.key_text() != text);
                pairs.push((key, v));
                if !self.eat(',') || self.peek() == Some(&Tok::Op('}')) {
                    break;
                }
                key = self.item()?;
                if !self.eat(':') {
                    return Err(NOT);
                }
            }
            if !self.eat('}') {
                return Err(NOT);
            }
            return Ok(Lit::Dict(pairs));
        }
        // A set: written out as a list without repeats.
        let mut items = vec![first];
        while self.eat(',') {
            if self.peek() == Some(&Tok::Op('}')) {
                break;
            }
            items.push(self.item()?);
        }
        if !self.eat('}') {
            return Err(NOT);
        }
        if items.iter().any(|i| !i.hashable()) {
            return Err(LiteralError::Unhashable);
        }
        let mut out: Vec<Lit> = Vec::new();
        for i in items {
            if !out.iter().any(|o| o.key_text() == i.key_text()) {
                out.push(i);
            }
        }
        Ok(Lit::List(out))
    }
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Python's tokens for one line; None when the text cannot be tokenized.
fn lex(text: &str) -> Option<Vec<Tok>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    // Python's tokenizer refuses more than 200 nested brackets.
    let mut level = 0usize;
    while i < chars.len() {
        let c = chars[i];
        if matches!(c, ' ' | '\t' | '\x0c' | '\n' | '\r') {
            i += 1;
        } else if c == '#' {
            break;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let (tok, next) = number(&chars, i)?;
            out.push(tok);
            i = next;
        } else if c == '\'' || c == '"' {
            let (s, next) = string(&chars, i, false, false)?;
            out.push(Tok::Str(s, false));
            i = next;
        } else if is_ident_start(c) {
            let start = i;
            while i < chars.len() && is_ident(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if matches!(chars.get(i), Some('\'' | '"')) {
                let prefix = word.to_ascii_lowercase();
                let (raw, bytes) = match prefix.as_str() {
                    "r" => (true, false),
                    "u" => (false, false),
                    "b" => (false, true),
                    "br" | "rb" => (true, true),
                    // f-strings are not literals for literal_eval; anything else is a
                    // name followed by a string (a syntax error).
                    _ => return None,
                };
                let (s, next) = string(&chars, i, raw, bytes)?;
                out.push(Tok::Str(s, bytes));
                i = next;
            } else {
                out.push(Tok::Name(word));
            }
        } else if "()[]{},:+-".contains(c) {
            if "([{".contains(c) {
                level += 1;
                if level > 200 {
                    return None;
                }
            } else if ")]}".contains(c) {
                level = level.saturating_sub(1);
            }
            out.push(Tok::Op(c));
            i += 1;
        } else {
            // Any other operator or character: not a literal (or not Python at all).
            out.push(Tok::Op(c));
            i += 1;
        }
    }
    Some(out)
}

/// Digits with single underscores between them, in `radix`; returns the end index.
fn digits(chars: &[char], mut i: usize, radix: u32) -> Option<(String, usize)> {
    let mut s = String::new();
    let mut last_underscore = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '_' {
            if last_underscore || s.is_empty() {
                return None;
            }
            last_underscore = true;
        } else if c.is_digit(radix) {
            s.push(c);
            last_underscore = false;
        } else {
            break;
        }
        i += 1;
    }
    if last_underscore {
        return None;
    }
    Some((s, i))
}

fn number(chars: &[char], start: usize) -> Option<(Tok, usize)> {
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    if at(start) == '0' && matches!(at(start + 1), 'x' | 'X' | 'o' | 'O' | 'b' | 'B') {
        let radix = match at(start + 1).to_ascii_lowercase() {
            'x' => 16,
            'o' => 8,
            _ => 2,
        };
        // An underscore may follow the base prefix.
        let mut i = start + 2;
        if at(i) == '_' {
            i += 1;
        }
        let (d, end) = digits(chars, i, radix)?;
        if d.is_empty() || is_ident(at(end)) {
            return None;
        }
        let n = BigInt::parse_bytes(d.as_bytes(), radix)?;
        return Some((Tok::Int(n), end));
    }
    let (int_part, mut i) = if at(start) == '.' {
        (String::new(), start)
    } else {
        digits(chars, start, 10)?
    };
    let mut float_text = int_part.clone();
    let mut is_float = false;
    if at(i) == '.' {
        is_float = true;
        float_text.push('.');
        i += 1;
        if at(i).is_ascii_digit() {
            let (frac, end) = digits(chars, i, 10)?;
            float_text.push_str(&frac);
            i = end;
        }
    }
    if matches!(at(i), 'e' | 'E') {
        let mut j = i + 1;
        let mut exp = String::from("e");
        if matches!(at(j), '+' | '-') {
            exp.push(at(j));
            j += 1;
        }
        if at(j).is_ascii_digit() {
            let (e, end) = digits(chars, j, 10)?;
            exp.push_str(&e);
            float_text.push_str(&exp);
            is_float = true;
            i = end;
        } else {
            return None;
        }
    }
    if matches!(at(i), 'j' | 'J') || is_ident(at(i)) {
        // Complex numbers (never useful in an inventory) and `1abc`.
        return None;
    }
    if is_float {
        let f: f64 = float_text.parse().ok()?;
        return Some((Tok::Float(f), i));
    }
    // Leading zeros are not allowed in a decimal integer (except all zeros).
    if int_part.len() > 1 && int_part.starts_with('0') && int_part.chars().any(|c| c != '0') {
        return None;
    }
    Some((Tok::Int(BigInt::parse_bytes(int_part.as_bytes(), 10)?), i))
}

fn hex_char(chars: &[char], i: usize, n: usize) -> Option<char> {
    let s: String = chars.get(i..i + n)?.iter().collect();
    if s.len() != n || !s.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    char::from_u32(u32::from_str_radix(&s, 16).ok()?)
}

/// A quoted string starting at `start` (the quote); returns its text and the end index.
fn string(chars: &[char], start: usize, raw: bool, bytes: bool) -> Option<(String, usize)> {
    let q = chars[start];
    let triple = chars.get(start + 1) == Some(&q) && chars.get(start + 2) == Some(&q);
    let mut i = start + if triple { 3 } else { 1 };
    let mut out = String::new();
    loop {
        let c = *chars.get(i)?;
        if c == q {
            if !triple {
                return Some((out, i + 1));
            }
            if chars.get(i + 1) == Some(&q) && chars.get(i + 2) == Some(&q) {
                return Some((out, i + 3));
            }
        }
        if (c == '\n' && !triple) || (bytes && !c.is_ascii()) {
            return None;
        }
        if c != '\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let n = *chars.get(i + 1)?;
        if raw {
            // A raw string keeps the backslash; it still stops a quote from closing.
            out.push('\\');
            out.push(n);
            i += 2;
            continue;
        }
        i += 2;
        match n {
            '\n' => {}
            '\\' | '\'' | '"' => out.push(n),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            'x' => {
                out.push(hex_char(chars, i, 2)?);
                i += 2;
            }
            'u' | 'U' if !bytes => {
                let len = if n == 'u' { 4 } else { 8 };
                out.push(hex_char(chars, i, len)?);
                i += len;
            }
            '0'..='7' => {
                let mut v = n.to_digit(8)?;
                let mut k = 0;
                while k < 2 && chars.get(i).is_some_and(|c| c.is_digit(8)) {
                    v = v * 8 + chars[i].to_digit(8)?;
                    i += 1;
                    k += 1;
                }
                out.push(char::from_u32(v)?);
            }
            // \N{NAME} needs Unicode's name table: not supported, kept as text.
            'N' if !bytes => return None,
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(s: &str) -> Option<Value> {
        literal_eval(s).ok()
    }

    #[test]
    fn numbers_in_python_notation() {
        assert_eq!(ev("42"), Some(json!(42)));
        assert_eq!(ev("0x1F"), Some(json!(31)));
        assert_eq!(ev("0o17"), Some(json!(15)));
        assert_eq!(ev("0b101"), Some(json!(5)));
        assert_eq!(ev("1_000"), Some(json!(1000)));
        assert_eq!(ev("1e3"), Some(json!(1000.0)));
        assert_eq!(ev("1.5e-3"), Some(json!(0.0015)));
        assert_eq!(ev("-5"), Some(json!(-5)));
        assert_eq!(ev("+3"), Some(json!(3)));
        assert_eq!(ev("3.0"), Some(json!(3.0)));
        assert_eq!(ev("08"), None);
        assert_eq!(ev("00"), Some(json!(0)));
        assert_eq!(ev("1__0"), None);
        assert_eq!(ev("--1"), None);
        assert_eq!(ev("1+2"), None);
        assert_eq!(ev("10.0.0.1"), None);
    }

    #[test]
    fn strings_containers_and_constants() {
        assert_eq!(ev("'foo' 'bar'"), Some(json!("foobar")));
        assert_eq!(ev("\"a\" 'b'"), Some(json!("ab")));
        assert_eq!(ev("'x\\ty'"), Some(json!("x\ty")));
        assert_eq!(ev("r'a\\d'"), Some(json!("a\\d")));
        assert_eq!(ev("'a\\d'"), Some(json!("a\\d")));
        assert_eq!(ev("[1, 2]"), Some(json!([1, 2])));
        assert_eq!(ev("(1,2)"), Some(json!([1, 2])));
        assert_eq!(ev("1,2"), Some(json!([1, 2])));
        assert_eq!(ev("(1)"), Some(json!(1)));
        assert_eq!(
            ev("{'k': 1, 'l': [True, None]}"),
            Some(json!({"k": 1, "l": [true, null]}))
        );
        assert_eq!(
            ev("{1: 'a', None: 'b'}"),
            Some(json!({"1": "a", "null": "b"}))
        );
        assert_eq!(ev("[yes,no]"), None);
        assert_eq!(ev("True"), Some(json!(true)));
        assert_eq!(ev("None"), Some(Value::Null));
        assert_eq!(ev("42 # comment"), Some(json!(42)));
        assert_eq!(ev("value # not a comment"), None);
        assert_eq!(ev(""), None);
        assert_eq!(ev("C:\\dir"), None);
        assert_eq!(literal_eval("{[1]: 2}"), Err(LiteralError::Unhashable));
    }
}
