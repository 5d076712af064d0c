//! RSA key pairs for actors. Generation is slow, so it runs off the async
//! threads.

use rsa::{
    RsaPrivateKey, RsaPublicKey,
    pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding},
};

use crate::{ServiceError, ServiceResult};

pub struct KeyPair {
    pub private_pem: String,
    pub public_pem: String,
}

/// A new RSA-2048 key pair (PKCS#8 private key, SPKI public key, both PEM).
pub async fn generate() -> ServiceResult<KeyPair> {
    tokio::task::spawn_blocking(|| {
        let mut rng = rand::thread_rng();
        let private = RsaPrivateKey::new(&mut rng, 2048)
            .map_err(|e| ServiceError::Internal(format!("key generation: {e}")))?;
        let public = RsaPublicKey::from(&private);
        Ok(KeyPair {
            private_pem: private
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| ServiceError::Internal(format!("key encoding: {e}")))?
                .to_string(),
            public_pem: public
                .to_public_key_pem(LineEnding::LF)
                .map_err(|e| ServiceError::Internal(format!("key encoding: {e}")))?,
        })
    })
    .await
    .map_err(|e| ServiceError::Internal(format!("key generation task: {e}")))?
}
