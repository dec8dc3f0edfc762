//! Shared attribute-parsing pieces.

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, ExprLit, ExprUnary, Lit, LitStr, Path, UnOp};

use crate::ctxt::Ctxt;
use crate::symbol::Symbol;

/// An attribute value that may be given once.
pub(crate) struct Attr<'c, T> {
    cx: &'c Ctxt,
    attr: Symbol,
    key: Symbol,
    tokens: TokenStream,
    value: Option<T>,
}

impl<'c, T> Attr<'c, T> {
    pub(crate) fn none(cx: &'c Ctxt, attr: Symbol, key: Symbol) -> Self {
        Self {
            cx,
            attr,
            key,
            tokens: TokenStream::new(),
            value: None,
        }
    }

    /// Sets the value, or reports a duplicate key at `tokens`.
    pub(crate) fn set(&mut self, tokens: impl ToTokens, value: T) {
        let tokens = tokens.into_token_stream();
        if self.value.is_some() {
            let message = format!("duplicate {} attribute `{}`", self.attr, self.key);
            self.cx.error_spanned_by(tokens, message);
        } else {
            self.tokens = tokens;
            self.value = Some(value);
        }
    }

    pub(crate) fn get(self) -> Option<T> {
        self.value
    }

    pub(crate) fn get_with_tokens(self) -> Option<(TokenStream, T)> {
        let tokens = self.tokens;
        self.value.map(|value| (tokens, value))
    }
}

/// A flag (`#[metric(calls)]`) that may be given once.
pub(crate) struct Flag<'c>(Attr<'c, ()>);

impl<'c> Flag<'c> {
    pub(crate) fn none(cx: &'c Ctxt, attr: Symbol, key: Symbol) -> Self {
        Self(Attr::none(cx, attr, key))
    }

    pub(crate) fn set_true(&mut self, tokens: impl ToTokens) {
        self.0.set(tokens, ());
    }

    /// The span of the flag when it was given.
    pub(crate) fn get(self) -> Option<TokenStream> {
        self.0.get_with_tokens().map(|(tokens, ())| tokens)
    }
}

/// Parses every `#[name(...)]` attribute with `each`, reporting errors without stopping.
pub(crate) fn parse_attrs(
    cx: &Ctxt,
    attrs: &[Attribute],
    name: Symbol,
    mut each: impl FnMut(&ParseNestedMeta<'_>) -> syn::Result<()>,
) {
    for attr in attrs.iter().filter(|attr| attr.path() == name) {
        if let syn::Meta::Path(_) = attr.meta {
            cx.error_spanned_by(attr, format!("expected `#[{name}(...)]`"));
            continue;
        }
        if let Err(error) = attr.parse_nested_meta(|meta| each(&meta)) {
            cx.syn_error(error);
        }
    }
}

/// Reports an unknown key and skips its value so parsing can go on.
pub(crate) fn unknown_key(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    attr: Symbol,
    known: &[Symbol],
) -> syn::Result<()> {
    let key = meta.path.to_token_stream().to_string().replace(' ', "");
    let known: Vec<String> = known.iter().map(|symbol| format!("`{symbol}`")).collect();
    cx.error_spanned_by(
        &meta.path,
        format!(
            "unknown {attr} attribute `{key}`; expected one of {}",
            known.join(", ")
        ),
    );
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _nested;
        syn::parenthesized!(_nested in meta.input);
        let _: TokenStream = _nested.parse()?;
    }
    Ok(())
}

/// `key = "string"`.
pub(crate) fn string_value(meta: &ParseNestedMeta<'_>) -> syn::Result<LitStr> {
    let expr: Expr = meta.value()?.parse()?;
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok(lit),
        other => Err(syn::Error::new_spanned(other, "expected a string literal")),
    }
}

/// `crate = path`.
pub(crate) fn path_value(meta: &ParseNestedMeta<'_>) -> syn::Result<Path> {
    let value = meta.value()?;
    if value.peek(LitStr) {
        let lit: LitStr = value.parse()?;
        return lit.parse();
    }
    Path::parse_mod_style(value)
}

/// A number literal, possibly negated, as written.
pub(crate) fn number(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Float(lit),
            ..
        }) => lit.base10_parse().ok(),
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => lit.base10_parse::<i64>().ok().map(|n| n as f64),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => number(expr).map(|n| -n),
        Expr::Group(group) => number(&group.expr),
        Expr::Paren(paren) => number(&paren.expr),
        _ => None,
    }
}

/// The text of every `///` line, trimmed and joined by single spaces.
pub(crate) fn doc_comment(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("doc")) {
        if let syn::Meta::NameValue(nv) = &attr.meta {
            if let Expr::Lit(ExprLit {
                lit: Lit::Str(lit), ..
            }) = &nv.value
            {
                let line = lit.value();
                let line = line.trim();
                if !line.is_empty() {
                    lines.push(line.to_owned());
                }
            }
        }
    }
    lines.join(" ")
}

/// The default runtime crate path.
pub(crate) fn default_crate() -> Path {
    syn::parse_quote!(::fiko_metrics)
}

/// The span of a token stream's first token (call site when empty).
pub(crate) fn first_span(tokens: &TokenStream) -> Span {
    tokens
        .clone()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |token| token.span())
}

/// `Expr::span` through the spanned trait, for quote_spanned!.
pub(crate) fn span_of(tokens: &impl Spanned) -> Span {
    tokens.span()
}

/// `tokens` with every span set to `span`, so an error anywhere in them points at `span`
/// alone (and not at the whole attribute their default spans would join into).
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|token| match token {
            TokenTree::Group(group) => {
                let mut respanned = Group::new(group.delimiter(), respan(group.stream(), span));
                respanned.set_span(span);
                TokenTree::Group(respanned)
            }
            mut other => {
                other.set_span(span);
                other
            }
        })
        .collect()
}
