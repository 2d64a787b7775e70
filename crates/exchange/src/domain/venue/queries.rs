//! Lookups: instruments, accounts, assets and orders by name or index.

use tse_matching::OrderBook;

use super::{Account, Fees, Venue, VenueError};
use crate::domain::{
    instrument::Instrument,
    ledger::{AccountIdx, AssetIdx, Ledger},
    order::Order,
};

impl Venue {
    /// Returns the listed instruments.
    pub fn instruments(&self) -> &[Instrument] {
        &self.instruments
    }

    /// Returns the ledger.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Returns the fee schedule.
    pub fn fees(&self) -> Fees {
        self.fees
    }

    /// Returns the book of instrument `index`.
    pub fn book(&self, index: usize) -> &OrderBook {
        &self.books[index]
    }

    /// Returns the index of `symbol`.
    ///
    /// # Errors
    /// [`VenueError::UnknownSymbol`] naming what is listed.
    pub fn instrument(&self, symbol: &str) -> Result<usize, VenueError> {
        let upper = symbol.trim().to_ascii_uppercase();
        self.instruments
            .iter()
            .position(|i| i.symbol == upper)
            .ok_or_else(|| VenueError::UnknownSymbol {
                symbol: symbol.to_owned(),
                listed: self.instruments.iter().map(|i| i.symbol.clone()).collect(),
            })
    }

    /// Returns the index of account `id`.
    ///
    /// # Errors
    /// [`VenueError::UnknownAccount`].
    pub fn account(&self, id: &str) -> Result<AccountIdx, VenueError> {
        self.account_index
            .get(id)
            .copied()
            .ok_or_else(|| VenueError::UnknownAccount(id.to_owned()))
    }

    /// Returns how many accounts are open.
    pub fn account_count(&self) -> usize {
        self.accounts.len()
    }

    /// Returns account `index`.
    pub fn account_at(&self, index: AccountIdx) -> &Account {
        &self.accounts[index as usize]
    }

    /// Returns the index of `asset`.
    ///
    /// # Errors
    /// [`VenueError::UnknownAsset`] naming what is held.
    pub fn asset(&self, asset: &str) -> Result<AssetIdx, VenueError> {
        let upper = asset.trim().to_ascii_uppercase();
        self.ledger.asset(&upper).ok_or_else(|| VenueError::UnknownAsset {
            asset: asset.to_owned(),
            held: self.ledger.assets().to_vec(),
        })
    }

    /// Returns an order held in memory (open, or recently finished).
    pub fn order(&self, id: u64) -> Option<&Order> {
        self.orders.get(&id)
    }

    /// Returns the open orders of an account, oldest first.
    pub fn open_orders(&self, account: AccountIdx) -> Vec<&Order> {
        let mut open: Vec<&Order> = self
            .orders
            .values()
            .filter(|o| o.account == account && o.status.is_open())
            .collect();
        open.sort_by_key(|o| o.id);
        open
    }

    /// Returns how many decimals amounts of `asset` take here.
    pub fn asset_scale(&self, asset: AssetIdx) -> u32 {
        self.scales[usize::from(asset)]
    }
}
