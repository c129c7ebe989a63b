//! Where configuration values come from, in increasing precedence: `config/default.toml`,
//! `config/<APP_ENV>.toml` (both embedded in the binary, so no working directory is assumed),
//! then the process environment. Every key is the name of its environment variable.

use std::collections::HashMap;

const DEFAULT: &str = include_str!("../../config/default.toml");
const PRODUCTION: &str = include_str!("../../config/production.toml");
const STAGING: &str = include_str!("../../config/staging.toml");
const DEVELOPMENT: &str = include_str!("../../config/development.toml");
const TEST: &str = include_str!("../../config/test.toml");

/// Flattened configuration: variable name to raw string value.
#[derive(Debug, Clone)]
pub struct Source {
    values: HashMap<String, String>,
}

impl Source {
    /// Layers the embedded files for `app_env` under the variables `env` yields.
    pub fn layered(app_env: &str, env: impl Fn(&str) -> Option<String>) -> Self {
        let mut values = HashMap::new();
        let env_file = match app_env {
            "production" => PRODUCTION,
            "staging" => STAGING,
            "development" => DEVELOPMENT,
            "test" => TEST,
            _ => "",
        };
        for file in [DEFAULT, env_file] {
            let table: toml::Table = file.parse().expect("embedded config files are valid TOML");
            for (key, value) in table {
                let text = match value {
                    toml::Value::String(s) => s,
                    other => other.to_string(),
                };
                values.insert(key, text);
            }
        }
        for key in super::VARIABLES {
            if let Some(value) = env(key) {
                values.insert((*key).to_owned(), value);
            }
        }
        Self { values }
    }

    /// The value of `key`, or `None` when unset or empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_the_env_file_which_overrides_defaults() {
        let source = Source::layered("development", |k| (k == "PORT").then(|| "9001".to_owned()));
        assert_eq!(source.get("PORT"), Some("9001"));
        assert_eq!(source.get("BIND_ADDRESS"), Some("127.0.0.1"));
        assert_eq!(source.get("RATE_LIMIT_PER_MINUTE"), Some("100"));
        assert_eq!(source.get("SECRET_KEY"), None);
    }
}
