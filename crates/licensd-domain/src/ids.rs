//! Typed record ids: a licence's id cannot be passed where a product's is expected. Each is a
//! transparent `i64` on the wire (`#[serde(transparent)]`, so JSON is unchanged) and in the
//! database, where the store binds `id.get()` and decodes with `new` (the domain does not know sqlx).
//! Fields of these types carry `schema(value_type = i64)` so the OpenAPI document is unchanged too.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            /// The id of the stored row numbered `raw`.
            pub const fn new(raw: i64) -> Self {
                Self(raw)
            }

            /// The row number, for binding in SQL or writing into a dialect's wire form.
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }
    };
}

id_type!(
    /// A license's id (`licenses.id`).
    LicenseId
);
id_type!(
    /// A product's id (`products.id`).
    ProductId
);
id_type!(
    /// An activated device's id (`devices.id`).
    DeviceId
);
id_type!(
    /// A customer's id (`customers.id`).
    CustomerId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_plain_numbers_on_the_wire() {
        let id = LicenseId::new(42);
        assert_eq!(serde_json::to_string(&id).unwrap(), "42");
        assert_eq!(serde_json::from_str::<LicenseId>("42").unwrap(), id);
        assert_eq!(serde_json::to_string(&Some(CustomerId::new(-7))).unwrap(), "-7");
        assert!(serde_json::from_str::<ProductId>("\"42\"").is_err());
        assert_eq!(DeviceId::new(9).to_string(), "9");
        assert_eq!(i64::from(ProductId::new(3)), 3);
        assert_eq!(LicenseId::new(5).get(), 5);
    }
}
