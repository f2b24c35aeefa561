//! Platform-wide settings and secrets shared by every instance (e.g. the
//! generated `SECRET_KEY`), so several processes on one database agree.

use sea_orm::entity::prelude::*;

/// One named setting.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "platform_settings")]
pub struct Model {
    /// Stable name of the setting, e.g. `secret_key`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// The value; may be a secret, hence no `Debug` on this type.
    #[sea_orm(column_type = "Text")]
    pub value: String,
    /// When the setting was first written (settings are write-once today).
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformSetting")
            .field("key", &self.key)
            .field("value", &"[redacted]")
            .finish()
    }
}
