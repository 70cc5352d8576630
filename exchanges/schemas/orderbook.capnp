@0xd1a6f3c1b2e4a703;
# ssmd normalized order-book update, v1: a full snapshot or one delta.
# Both sides are bids in their own outcome's price; levels sorted by price ascending.

struct Level {
  price @0 :Int64;
  size @1 :Int64;
}

struct OrderbookUpdate {
  ts @0 :Int64;
  receivedAt @1 :Int64;
  ticker @2 :Text;
  sid @3 :UInt32;
  seq @4 :UInt64;
  union {
    snapshot :group {
      yes @5 :List(Level);
      no @6 :List(Level);
    }
    delta :group {
      side @7 :Side;
      price @8 :Int64;
      delta @9 :Int64;
    }
  }
  # appended (v1 stays wire compatible: older messages read as absent)
  marketId @10 :Text;
  hasMarketId @11 :Bool;

  enum Side {
    yes @0;
    no @1;
  }
}
