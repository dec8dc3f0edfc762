//! `#[timed]` and `#[counted]`: instrument a function.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, ItemFn, LitStr, Path, ReturnType, Type};

use crate::attr::{self, Attr, Flag};
use crate::ctxt::Ctxt;
use crate::symbol::*;

/// Which attribute is expanding.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Timed,
    Counted,
}

impl Mode {
    fn attr(self) -> Symbol {
        match self {
            Self::Timed => TIMED,
            Self::Counted => COUNTED,
        }
    }
}

struct Options {
    krate: Path,
    metrics: Option<Expr>,
    in_flight: Option<TokenStream>,
    errors: Option<Expr>,
    name: Option<LitStr>,
}

pub(crate) fn expand(mode: Mode, args: TokenStream, item: TokenStream) -> TokenStream {
    let cx = Ctxt::new();
    let options = parse_options(&cx, mode, args);
    let function = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(function) => Some(function),
        Err(_) => {
            cx.error_at(
                attr::first_span(&item),
                format!(
                    "`#[{}]` goes on a function (sync or async, free or in an impl block)",
                    mode.attr()
                ),
            );
            None
        }
    };
    if let Some(function) = &function {
        if let Some(constness) = &function.sig.constness {
            cx.error_spanned_by(
                constness,
                format!(
                    "`#[{}]` cannot go on a `const fn`: it reads the clock and records at run time",
                    mode.attr()
                ),
            );
        }
    }
    match (cx.check(), function) {
        (Ok(()), Some(function)) => emit(mode, &options, function),
        (Err(error), _) => {
            let error = error.to_compile_error();
            quote!(#error #item)
        }
        (Ok(()), None) => item,
    }
}

fn parse_options(cx: &Ctxt, mode: Mode, args: TokenStream) -> Options {
    let attr_name = mode.attr();
    let mut krate = Attr::none(cx, attr_name, CRATE);
    let mut metrics = Attr::none(cx, attr_name, METRICS);
    let mut in_flight = Flag::none(cx, attr_name, IN_FLIGHT);
    let mut errors = Attr::none(cx, attr_name, ERRORS);
    let mut name = Attr::none(cx, attr_name, NAME);
    let parser = syn::meta::parser(|meta| {
        if meta.path == METRICS {
            // #[timed(metrics = MySet::global())]
            metrics.set(&meta.path, meta.value()?.parse::<Expr>()?);
        } else if meta.path == IN_FLIGHT {
            // #[timed(in_flight)]
            in_flight.set_true(&meta.path);
        } else if meta.path == ERRORS {
            // #[timed(errors = classify)]
            errors.set(&meta.path, meta.value()?.parse::<Expr>()?);
        } else if meta.path == NAME {
            // #[timed(name = "checkout")]
            let lit = attr::string_value(&meta)?;
            if lit.value().is_empty() {
                cx.error_spanned_by(&lit, "the function label must not be empty");
            }
            name.set(&meta.path, lit);
        } else if meta.path == CRATE {
            // #[timed(crate = path::to::fiko_metrics)]
            krate.set(&meta.path, attr::path_value(&meta)?);
        } else {
            attr::unknown_key(cx, &meta, attr_name, FUNCTION_KEYS)?;
        }
        Ok(())
    });
    if let Err(error) = syn::parse::Parser::parse2(parser, args) {
        cx.syn_error(error);
    }
    Options {
        krate: krate.get().unwrap_or_else(attr::default_crate),
        metrics: metrics.get(),
        in_flight: in_flight.get(),
        errors: errors.get(),
        name: name.get(),
    }
}

/// Whether a return type can be written as a `let` or closure annotation as is.
fn annotatable(ty: &Type) -> bool {
    fn plain(tokens: TokenStream) -> bool {
        tokens.into_iter().all(|token| match token {
            TokenTree::Ident(ident) => ident != "impl" && ident != "_",
            TokenTree::Punct(punct) => punct.as_char() != '&' && punct.as_char() != '\'',
            TokenTree::Group(group) => plain(group.stream()),
            TokenTree::Literal(_) => true,
        })
    }
    plain(quote!(#ty))
}

fn emit(mode: Mode, options: &Options, function: ItemFn) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = function;
    let krate = &options.krate;
    let private = quote!(#krate::__private01);
    let function_name = match &options.name {
        Some(lit) => lit.value(),
        None => sig.ident.to_string().trim_start_matches("r#").to_owned(),
    };

    let metrics = match &options.metrics {
        Some(expr) => quote_spanned!(expr.span()=> &*(#expr)),
        None => quote!(<#krate::calls::FunctionMetrics as #krate::MetricSet>::global()),
    };
    let span = options
        .metrics
        .as_ref()
        .map_or_else(Span::call_site, attr::span_of);
    let calls = quote_spanned!(span=> #krate::calls::RecordCalls::calls(__fiko_metrics));
    let durations = match mode {
        Mode::Timed => quote_spanned!(span=>
            ::core::option::Option::Some(#krate::calls::RecordDurations::durations(__fiko_metrics))),
        Mode::Counted => quote!(::core::option::Option::None),
    };
    let in_flight = match &options.in_flight {
        Some(tokens) => {
            let span = options
                .metrics
                .as_ref()
                .map_or_else(|| attr::first_span(tokens), attr::span_of);
            quote_spanned!(span=>
                ::core::option::Option::Some(#krate::calls::RecordInFlight::in_flight(__fiko_metrics)))
        }
        None => quote!(::core::option::Option::None),
    };

    let return_type = match &sig.output {
        ReturnType::Type(_, ty) if annotatable(ty) => Some(quote!(#ty)),
        ReturnType::Type(..) => None,
        ReturnType::Default => Some(quote!(())),
    };
    let body = if sig.asyncness.is_some() {
        let annotation = return_type.map(|ty| quote!(: #ty));
        quote! {
            async move {
                let __fiko_inner #annotation = #block;
                __fiko_inner
            }
            .await
        }
    } else {
        let annotation = return_type.map(|ty| quote!(-> #ty));
        quote!((move || #annotation #block)())
    };
    let outcome = match &options.errors {
        Some(classify) => {
            // Spanned on the classifier alone: a classifier that does not fit the function's
            // `Result` (or returns no error kind) is reported there.
            let span = classify.span();
            let private = attr::respan(private.clone(), span);
            quote_spanned!(span=> #private::classified(&__fiko_result, #classify))
        }
        None => quote! {{
            #[allow(unused_imports)]
            use #private::{PlainOutcome as _, ResultOutcome as _};
            (&#private::Probe(&__fiko_result)).fiko_outcome()
        }},
    };

    quote! {
        #(#attrs)*
        #vis #sig {
            static __FIKO_SITE: #private::CallSite =
                #private::CallSite::new(#function_name, ::core::module_path!());
            let __fiko_metrics = #metrics;
            let __fiko_call = #private::CallGuard::start(&__FIKO_SITE, #calls, #durations, #in_flight);
            #[allow(clippy::redundant_closure_call)]
            let __fiko_result = #body;
            __fiko_call.finish(#outcome);
            __fiko_result
        }
    }
}
