//! The `command` label: a closed set of common Redis commands, everything else `other`.

use fiko_metrics::LabelValue;

/// A Redis command name, as the `command` label of the client metrics.
///
/// The set is closed (so a typo'd or hostile command name cannot create series): the common string, hash, list, set, sorted-set,
/// stream, script, transaction and connection commands are listed, anything else is
/// [`Command::Other`]. [`Command::Pipeline`] labels the round trip of a whole pipeline.
///
/// ```
/// use fiko_metrics_redis::Command;
///
/// assert_eq!(Command::of(&redis::cmd("get")), Command::Get);
/// assert_eq!(Command::of(&redis::cmd("HGETALL")), Command::HGetAll);
/// assert_eq!(Command::of(&redis::cmd("OBJECT")), Command::Other);
/// ```
#[derive(LabelValue, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[label_value(rename_all = "lowercase")]
#[allow(missing_docs)] // each variant is the Redis command of the same name
pub enum Command {
    // Strings and keys.
    Get,
    Set,
    SetEx,
    PSetEx,
    SetNx,
    GetDel,
    GetEx,
    GetSet,
    MGet,
    MSet,
    Append,
    StrLen,
    Incr,
    IncrBy,
    IncrByFloat,
    Decr,
    DecrBy,
    Del,
    Unlink,
    Exists,
    Expire,
    PExpire,
    ExpireAt,
    Persist,
    Ttl,
    PTtl,
    Type,
    Rename,
    Keys,
    Scan,
    // Hashes.
    HGet,
    HSet,
    HSetNx,
    HMGet,
    HMSet,
    HDel,
    HGetAll,
    HExists,
    HIncrBy,
    HKeys,
    HVals,
    HLen,
    HScan,
    // Lists.
    LPush,
    RPush,
    LPop,
    RPop,
    BLPop,
    BRPop,
    LMove,
    BLMove,
    LRange,
    LLen,
    LRem,
    LTrim,
    LIndex,
    // Sets.
    SAdd,
    SRem,
    SMembers,
    SIsMember,
    SCard,
    SPop,
    SScan,
    // Sorted sets.
    ZAdd,
    ZRem,
    ZRange,
    ZRangeByScore,
    ZRevRange,
    ZScore,
    ZCard,
    ZCount,
    ZIncrBy,
    ZRank,
    ZPopMin,
    ZRemRangeByScore,
    ZScan,
    // Streams.
    XAdd,
    XRead,
    XReadGroup,
    XAck,
    XLen,
    XRange,
    XGroup,
    XPending,
    XClaim,
    XAutoClaim,
    XDel,
    XTrim,
    // Pub/sub.
    Publish,
    // Scripts.
    Eval,
    EvalSha,
    Script,
    FCall,
    // Transactions.
    Multi,
    Exec,
    Discard,
    Watch,
    Unwatch,
    // Connection and server.
    Ping,
    Echo,
    Select,
    Auth,
    Hello,
    Client,
    Info,
    DbSize,
    FlushDb,
    FlushAll,
    Config,
    /// The round trip of a whole pipeline (or `MULTI`/`EXEC` transaction); its commands
    /// are counted by name too.
    Pipeline,
    /// Any command not listed here.
    Other,
}

impl Command {
    /// The command of `cmd` (its first argument, case-insensitive).
    pub fn of(cmd: &redis::Cmd) -> Command {
        match cmd.args_iter().next() {
            Some(redis::Arg::Simple(name)) => Command::from_name(name),
            _ => Command::Other,
        }
    }

    /// The command named `name` (case-insensitive); [`Command::Other`] if it is not listed.
    pub fn from_name(name: &[u8]) -> Command {
        // The longest listed name is 16 bytes; anything longer is `other`.
        let mut buf = [0_u8; 16];
        let Some(lower) = buf.get_mut(..name.len()) else {
            return Command::Other;
        };
        for (dst, src) in lower.iter_mut().zip(name) {
            *dst = src.to_ascii_lowercase();
        }
        match &*lower {
            b"get" => Command::Get,
            b"set" => Command::Set,
            b"setex" => Command::SetEx,
            b"psetex" => Command::PSetEx,
            b"setnx" => Command::SetNx,
            b"getdel" => Command::GetDel,
            b"getex" => Command::GetEx,
            b"getset" => Command::GetSet,
            b"mget" => Command::MGet,
            b"mset" => Command::MSet,
            b"append" => Command::Append,
            b"strlen" => Command::StrLen,
            b"incr" => Command::Incr,
            b"incrby" => Command::IncrBy,
            b"incrbyfloat" => Command::IncrByFloat,
            b"decr" => Command::Decr,
            b"decrby" => Command::DecrBy,
            b"del" => Command::Del,
            b"unlink" => Command::Unlink,
            b"exists" => Command::Exists,
            b"expire" => Command::Expire,
            b"pexpire" => Command::PExpire,
            b"expireat" => Command::ExpireAt,
            b"persist" => Command::Persist,
            b"ttl" => Command::Ttl,
            b"pttl" => Command::PTtl,
            b"type" => Command::Type,
            b"rename" => Command::Rename,
            b"keys" => Command::Keys,
            b"scan" => Command::Scan,
            b"hget" => Command::HGet,
            b"hset" => Command::HSet,
            b"hsetnx" => Command::HSetNx,
            b"hmget" => Command::HMGet,
            b"hmset" => Command::HMSet,
            b"hdel" => Command::HDel,
            b"hgetall" => Command::HGetAll,
            b"hexists" => Command::HExists,
            b"hincrby" => Command::HIncrBy,
            b"hkeys" => Command::HKeys,
            b"hvals" => Command::HVals,
            b"hlen" => Command::HLen,
            b"hscan" => Command::HScan,
            b"lpush" => Command::LPush,
            b"rpush" => Command::RPush,
            b"lpop" => Command::LPop,
            b"rpop" => Command::RPop,
            b"blpop" => Command::BLPop,
            b"brpop" => Command::BRPop,
            b"lmove" => Command::LMove,
            b"blmove" => Command::BLMove,
            b"lrange" => Command::LRange,
            b"llen" => Command::LLen,
            b"lrem" => Command::LRem,
            b"ltrim" => Command::LTrim,
            b"lindex" => Command::LIndex,
            b"sadd" => Command::SAdd,
            b"srem" => Command::SRem,
            b"smembers" => Command::SMembers,
            b"sismember" => Command::SIsMember,
            b"scard" => Command::SCard,
            b"spop" => Command::SPop,
            b"sscan" => Command::SScan,
            b"zadd" => Command::ZAdd,
            b"zrem" => Command::ZRem,
            b"zrange" => Command::ZRange,
            b"zrangebyscore" => Command::ZRangeByScore,
            b"zrevrange" => Command::ZRevRange,
            b"zscore" => Command::ZScore,
            b"zcard" => Command::ZCard,
            b"zcount" => Command::ZCount,
            b"zincrby" => Command::ZIncrBy,
            b"zrank" => Command::ZRank,
            b"zpopmin" => Command::ZPopMin,
            b"zremrangebyscore" => Command::ZRemRangeByScore,
            b"zscan" => Command::ZScan,
            b"xadd" => Command::XAdd,
            b"xread" => Command::XRead,
            b"xreadgroup" => Command::XReadGroup,
            b"xack" => Command::XAck,
            b"xlen" => Command::XLen,
            b"xrange" => Command::XRange,
            b"xgroup" => Command::XGroup,
            b"xpending" => Command::XPending,
            b"xclaim" => Command::XClaim,
            b"xautoclaim" => Command::XAutoClaim,
            b"xdel" => Command::XDel,
            b"xtrim" => Command::XTrim,
            b"publish" => Command::Publish,
            b"eval" => Command::Eval,
            b"evalsha" => Command::EvalSha,
            b"script" => Command::Script,
            b"fcall" => Command::FCall,
            b"multi" => Command::Multi,
            b"exec" => Command::Exec,
            b"discard" => Command::Discard,
            b"watch" => Command::Watch,
            b"unwatch" => Command::Unwatch,
            b"ping" => Command::Ping,
            b"echo" => Command::Echo,
            b"select" => Command::Select,
            b"auth" => Command::Auth,
            b"hello" => Command::Hello,
            b"client" => Command::Client,
            b"info" => Command::Info,
            b"dbsize" => Command::DbSize,
            b"flushdb" => Command::FlushDb,
            b"flushall" => Command::FlushAll,
            b"config" => Command::Config,
            _ => Command::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_command_parses_back_from_its_label() {
        let values = <Command as LabelValue>::VALUES.unwrap_or_default();
        assert_eq!(values.len(), 111);
        for (index, value) in values.iter().enumerate() {
            let parsed = Command::from_name(value.as_bytes());
            match *value {
                "pipeline" | "other" => assert_eq!(parsed, Command::Other),
                _ => assert_eq!(parsed.index(), index, "{value}"),
            }
            assert_eq!(
                Command::VALUES.unwrap_or_default()[parsed.index()],
                parsed.with_str(str::to_owned)
            );
            let upper = value.to_ascii_uppercase();
            assert_eq!(Command::from_name(upper.as_bytes()), parsed);
        }
    }

    #[test]
    fn unknown_long_and_empty_names_are_other() {
        assert_eq!(Command::from_name(b"object"), Command::Other);
        assert_eq!(Command::from_name(b"zremrangebyscorex"), Command::Other);
        assert_eq!(Command::from_name(&[b'x'; 300]), Command::Other);
        assert_eq!(Command::from_name(b""), Command::Other);
        assert_eq!(Command::of(&redis::Cmd::new()), Command::Other);
    }
}
