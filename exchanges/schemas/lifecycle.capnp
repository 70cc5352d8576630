@0xd1a6f3c1b2e4a704;
# ssmd normalized lifecycle event, v1. Optional fields carry a ``has*`` flag;
# unix-second fields (openTs, closeTs, ...) are seconds as Kalshi sends them.

struct Lifecycle {
  ts @0 :Int64;
  receivedAt @1 :Int64;
  ticker @2 :Text;
  kind @3 :Text;
  eventType @4 :Text;
  sid @5 :UInt32;
  seq @6 :UInt64;
  openTs @7 :Int64;
  hasOpenTs @8 :Bool;
  closeTs @9 :Int64;
  hasCloseTs @10 :Bool;
  determinationTs @11 :Int64;
  hasDeterminationTs @12 :Bool;
  settledTs @13 :Int64;
  hasSettledTs @14 :Bool;
  result @15 :Text;
  hasResult @16 :Bool;
  settlementValue @17 :Int64;
  hasSettlementValue @18 :Bool;
  isDeactivated @19 :Bool;
  hasIsDeactivated @20 :Bool;
  metadata @21 :Text;
  hasMetadata @22 :Bool;
}
