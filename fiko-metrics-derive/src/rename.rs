//! `#[label_value(rename_all = "...")]`: the rules, parsed once into [`RenameRule`].

use heck::{ToKebabCase, ToLowerCamelCase, ToShoutySnakeCase, ToSnakeCase};

/// How variant names become label values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RenameRule {
    /// `snake_case`, the default.
    Snake,
    /// `kebab-case`.
    Kebab,
    /// `lowercase`.
    Lower,
    /// `UPPERCASE`.
    Upper,
    /// `SCREAMING_SNAKE_CASE`.
    ScreamingSnake,
    /// `camelCase`.
    Camel,
    /// `PascalCase`: the variant name as written.
    Pascal,
}

impl RenameRule {
    /// Every rule, default first, in the order an unknown rule's error lists them.
    pub(crate) const ALL: &[Self] = &[
        Self::Snake,
        Self::Kebab,
        Self::Lower,
        Self::Upper,
        Self::ScreamingSnake,
        Self::Camel,
        Self::Pascal,
    ];

    /// The rule as users write it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Snake => "snake_case",
            Self::Kebab => "kebab-case",
            Self::Lower => "lowercase",
            Self::Upper => "UPPERCASE",
            Self::ScreamingSnake => "SCREAMING_SNAKE_CASE",
            Self::Camel => "camelCase",
            Self::Pascal => "PascalCase",
        }
    }

    /// The rule named `name`, or the error listing the valid ones.
    pub(crate) fn from_name(name: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .copied()
            .find(|rule| rule.name() == name)
            .ok_or_else(|| {
                let rules: Vec<String> = Self::ALL
                    .iter()
                    .map(|rule| format!("\"{}\"", rule.name()))
                    .collect();
                format!(
                    "unknown rename rule `{name}`; expected one of {}",
                    rules.join(", ")
                )
            })
    }

    /// The label value of the variant named `variant`.
    pub(crate) fn apply(self, variant: &str) -> String {
        match self {
            Self::Snake => variant.to_snake_case(),
            Self::Kebab => variant.to_kebab_case(),
            Self::Lower => variant.to_lowercase(),
            Self::Upper => variant.to_uppercase(),
            Self::ScreamingSnake => variant.to_shouty_snake_case(),
            Self::Camel => variant.to_lower_camel_case(),
            Self::Pascal => variant.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RenameRule;

    #[test]
    fn every_rule_parses_back_from_its_name() {
        for rule in RenameRule::ALL {
            assert_eq!(RenameRule::from_name(rule.name()), Ok(*rule));
        }
    }

    #[test]
    fn each_rule_renames_a_variant() {
        let renamed: Vec<String> = RenameRule::ALL
            .iter()
            .map(|rule| rule.apply("GptFour"))
            .collect();
        assert_eq!(
            renamed,
            [
                "gpt_four", "gpt-four", "gptfour", "GPTFOUR", "GPT_FOUR", "gptFour", "GptFour"
            ]
        );
    }

    #[test]
    fn an_unknown_rule_names_the_valid_ones() {
        assert_eq!(
            RenameRule::from_name("Title Case"),
            Err("unknown rename rule `Title Case`; expected one of \"snake_case\", \"kebab-case\", \"lowercase\", \"UPPERCASE\", \"SCREAMING_SNAKE_CASE\", \"camelCase\", \"PascalCase\"".to_owned())
        );
    }
}
