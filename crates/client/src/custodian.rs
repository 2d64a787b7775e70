//! The custodian simulator's production API (`tse.custodian.v1`).

use tse_proto::custodian::v1::{
    Account, Balance, Balances, CancelSettlementRequest, CreateAccountRequest, GetAccountRequest,
    GetBalancesRequest, GetPositionsRequest, GetSettlementRequest, ListAccountsRequest, ListAccountsResponse,
    ListSettlementsRequest, ListSettlementsResponse, MoveFundsRequest, Positions, ReconcileRequest,
    ReconcileResponse, Settlement, SubmitSettlementRequest, SubmitSettlementResponse, TransferRequest,
    TransferResponse, custodian_service_client::CustodianServiceClient,
};
use tse_runtime::identity::ServiceKind;

use crate::{client, unary};

client!(
    /// A client of one custodian simulator instance.
    Custodian,
    CustodianServiceClient<tonic::transport::Channel>,
    ServiceKind::CustodianSimulator
);

impl Custodian {
    unary! {
        /// Opens a custody account.
        fn create_account(CreateAccountRequest) -> Account;
        /// Lists custody accounts, one page at a time.
        fn list_accounts(ListAccountsRequest) -> ListAccountsResponse;
        /// Returns one custody account.
        fn get_account(GetAccountRequest) -> Account;
        /// Returns an account's balances.
        fn get_balances(GetBalancesRequest) -> Balances;
        /// Returns an account's positions.
        fn get_positions(GetPositionsRequest) -> Positions;
        /// Credits an account.
        fn deposit(MoveFundsRequest) -> Balance;
        /// Debits an account.
        fn withdraw(MoveFundsRequest) -> Balance;
        /// Moves funds between two accounts.
        fn transfer(TransferRequest) -> TransferResponse;
        /// Compares the books with an external statement.
        fn reconcile(ReconcileRequest) -> ReconcileResponse;
        /// Submits a settlement instruction.
        fn submit_settlement(SubmitSettlementRequest) -> SubmitSettlementResponse;
        /// Returns one settlement.
        fn get_settlement(GetSettlementRequest) -> Settlement;
        /// Lists settlements, one page at a time.
        fn list_settlements(ListSettlementsRequest) -> ListSettlementsResponse;
        /// Cancels a pending settlement.
        fn cancel_settlement(CancelSettlementRequest) -> Settlement;
    }
}
