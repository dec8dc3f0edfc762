//! Argon2id password hashes (PHC strings, `argon2`'s default parameters: 19 MiB, 2 passes)
//! computed in caller-provided memory.
//!
//! `Argon2::hash_password` allocates its 19 MiB block on every call, on whichever
//! blocking-pool thread runs it; glibc keeps freed blocks of that size in the thread's
//! arena, so the resident memory grows with the number of threads that ever hashed, not
//! with how many hash at once. Here the memory comes from
//! [`HashGate`](crate::limits::HashGate)'s pool, one block per permit, so Argon2's share
//! of the process is `PASSWORD_HASH_CONCURRENCY` × 19 MiB, whatever runs it.

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// Argon2's working memory, reused from hash to hash.
pub type Memory = Vec<Block>;

/// Why a hash could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The PHC string or its parameters are unusable.
    #[error("password hash: {0}")]
    Format(argon2::password_hash::Error),
    /// Argon2 refused its inputs.
    #[error("argon2: {0}")]
    Argon2(argon2::Error),
    /// The stored hash asks for more memory than the demo's parameters (it was not made
    /// here, and would overrun the bound).
    #[error("password hash needs {0} KiB, more than the configured parameters")]
    TooCostly(u32),
    /// No randomness for the salt.
    #[error("random salt: {0}")]
    Random(String),
}

// The argon2 crates are built without `std`: their errors are not `std::error::Error`,
// so no `#[from]`.
impl From<argon2::password_hash::Error> for PasswordError {
    fn from(error: argon2::password_hash::Error) -> Self {
        Self::Format(error)
    }
}

impl From<argon2::Error> for PasswordError {
    fn from(error: argon2::Error) -> Self {
        Self::Argon2(error)
    }
}

/// What unknown users' passwords are verified against, so that a login does the same
/// Argon2 work whether or not the email exists: a hash with the parameters of every stored
/// one (of a password nobody uses, with a fixed salt; a unit test recomputes it). A
/// constant, so no request pays for making it.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$Zmlrby1kdW1teS1zYWx0IQ$uL6/jQLLeibAfJdJuiEk7cWOUlHn+6rbLXTdu8tJkcA";

/// The PHC string of `password` with a random 16-byte salt, in `memory`.
pub fn hash(password: &[u8], memory: &mut Memory) -> Result<String, PasswordError> {
    let mut salt = [0_u8; 16];
    getrandom::fill(&mut salt).map_err(|e| PasswordError::Random(e.to_string()))?;
    hash_with_salt(password, &salt, memory)
}

/// The PHC string of `password` with `salt`, in `memory`.
pub fn hash_with_salt(
    password: &[u8],
    salt: &[u8],
    memory: &mut Memory,
) -> Result<String, PasswordError> {
    let params = Params::default();
    let mut output = [0_u8; Params::DEFAULT_OUTPUT_LEN];
    compute(
        &Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone()),
        password,
        salt,
        &mut output,
        memory,
    )?;
    let salt = SaltString::encode_b64(salt)?;
    Ok(PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&output)?),
    }
    .to_string())
}

/// Whether `password` matches the PHC string `phc`, computed in `memory` (and compared in
/// constant time).
pub fn verify(password: &[u8], phc: &str, memory: &mut Memory) -> Result<bool, PasswordError> {
    let parsed = PasswordHash::new(phc)?;
    let algorithm = Algorithm::try_from(parsed.algorithm)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()?
        .unwrap_or_default();
    let params = Params::try_from(&parsed)?;
    if params.m_cost() > Params::DEFAULT_M_COST {
        return Err(PasswordError::TooCostly(params.m_cost()));
    }
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(argon2::password_hash::Error::PhcStringField.into());
    };
    let mut salt_bytes = [0_u8; 64];
    let salt = salt.decode_b64(&mut salt_bytes)?;
    let mut output = vec![0_u8; expected.len()];
    compute(
        &Argon2::new(algorithm, version, params),
        password,
        salt,
        &mut output,
        memory,
    )?;
    Ok(Output::new(&output)? == expected)
}

fn compute(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    output: &mut [u8],
    memory: &mut Memory,
) -> Result<(), PasswordError> {
    let blocks = argon2.params().block_count();
    // Grows once to the parameters' size; never shrinks, so it is reused.
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let memory = memory.get_mut(..blocks).unwrap_or_default();
    argon2.hash_password_into_with_memory(password, salt, output, memory)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::{PasswordHasher, PasswordVerifier};

    #[test]
    fn hashes_are_standard_phc_strings_both_ways() {
        let mut memory = Memory::new();
        let ours = hash(b"analytical engine", &mut memory).unwrap();
        assert!(
            ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{ours}"
        );
        // The argon2 crate's verifier reads ours...
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"analytical engine", &parsed)
                .is_ok()
        );
        // ...and we read its hashes, the ones stored before this module existed.
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let theirs = Argon2::default()
            .hash_password(b"difference engine", &salt)
            .unwrap()
            .to_string();
        assert!(verify(b"difference engine", &theirs, &mut memory).unwrap());
        assert!(!verify(b"difference engin", &theirs, &mut memory).unwrap());
        assert_eq!(
            hash_with_salt(b"difference engine", b"0123456789abcdef", &mut memory).unwrap(),
            theirs
        );
        assert_eq!(memory.len(), Params::default().block_count());
    }

    #[test]
    fn the_dummy_hash_is_a_hash_with_the_parameters_of_every_other() {
        let mut memory = Memory::new();
        assert_eq!(
            hash_with_salt(
                b"not a password anyone uses",
                b"fiko-dummy-salt!",
                &mut memory
            )
            .unwrap(),
            DUMMY_HASH
        );
        assert!(!verify(b"analytical engine", DUMMY_HASH, &mut memory).unwrap());
    }

    #[test]
    fn a_hash_asking_for_more_memory_is_refused() {
        let costly = "$argon2id$v=19$m=1048576,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let error = verify(b"x", costly, &mut Memory::new()).unwrap_err();
        assert!(
            matches!(error, PasswordError::TooCostly(1_048_576)),
            "{error}"
        );
    }
}
