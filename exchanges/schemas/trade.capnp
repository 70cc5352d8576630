@0xd1a6f3c1b2e4a701;
# ssmd normalized trade, v1. Prices in 1e-4 dollars, sizes in 1e-2 contracts,
# times in nanoseconds since the Unix epoch (UTC).

struct Trade {
  ts @0 :Int64;
  receivedAt @1 :Int64;
  ticker @2 :Text;
  tradeId @3 :Text;
  price @4 :Int64;
  size @5 :Int64;
  side @6 :Side;
  sid @7 :UInt32;
  seq @8 :UInt64;
  isBlockTrade @9 :Bool;
  # appended (v1 stays wire compatible: older messages read as source ws, id not derived)
  source @10 :Source;
  tradeIdDerived @11 :Bool;

  enum Side {
    yes @0;
    no @1;
  }

  enum Source {
    ws @0;
    rest @1;
  }
}
