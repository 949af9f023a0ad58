//! `tessera case assign|submit|review|adjudicate|comment|policy|status`: the review flow
//! on the command line ([`crate::project::cases`]).
//!
//! Owns argument handling and the status listing's shape. The acting user comes from
//! `--user`/`TESSERA_USER` and the passphrase from `TESSERA_PASSPHRASE`. CASE names the
//! image: its series instance UID or the slide's SHA-256, as in the labels JSON; the
//! status listing prints those names (the user asked for them, to act on the cases).
//! Refusals exit 1 with one line saying why.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::project::{UserArg, unlock};
use crate::project::cases::{CaseAction, CaseState, Cases, Status, case_from_name, case_name};
use crate::project::{Id, Session, VerifyOnOpen};

#[derive(Debug, Subcommand)]
pub enum CaseCommand {
    /// Assign a case to one or more readers (admins and reviewers).
    Assign {
        file: PathBuf,
        /// Series instance UID, or the slide's SHA-256.
        case: String,
        /// The readers, comma-separated member names.
        #[arg(long, value_delimiter = ',', required = true)]
        to: Vec<String>,
        /// Each reader sees only their own annotations until they submit.
        #[arg(long)]
        blinded: bool,
        #[command(flatten)]
        who: UserArg,
    },
    /// Hand in your reading of a case.
    Submit {
        file: PathBuf,
        case: String,
        #[command(flatten)]
        who: UserArg,
    },
    /// Review a submitted case: approve, reject with a reason, or escalate to a senior.
    Review(ReviewArgs),
    /// Answer an escalation (the senior it was escalated to).
    Adjudicate {
        file: PathBuf,
        case: String,
        #[arg(long, value_name = "TEXT")]
        answer: String,
        #[command(flatten)]
        who: UserArg,
    },
    /// Comment on a case (or one of its annotations), mentioning members.
    Comment {
        file: PathBuf,
        case: String,
        #[arg(long, value_name = "TEXT")]
        text: String,
        /// The annotation commented on (its id, as `labels export` prints it).
        #[arg(long, value_name = "ID")]
        annotation: Option<String>,
        /// Members mentioned, comma-separated names.
        #[arg(long, value_delimiter = ',')]
        mention: Vec<String>,
        #[command(flatten)]
        who: UserArg,
    },
    /// Set the review policy (admins): a second read for every case, or only for cases
    /// holding a class marked "second read".
    Policy {
        file: PathBuf,
        #[arg(long, value_enum)]
        second_read: SecondRead,
        #[command(flatten)]
        who: UserArg,
    },
    /// Every case with its status, readers and review.
    Status {
        file: PathBuf,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        who: UserArg,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SecondRead {
    All,
    Flagged,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("decision").required(true).args(["approve", "reject", "escalate_to", "start"])))]
pub struct ReviewArgs {
    file: PathBuf,
    case: String,
    #[arg(long)]
    approve: bool,
    #[arg(long, value_name = "REASON")]
    reject: Option<String>,
    #[arg(long, value_name = "USER", requires = "question")]
    escalate_to: Option<String>,
    #[arg(long, value_name = "TEXT")]
    question: Option<String>,
    /// Mark the case as in review (the window does this when a reviewer opens it).
    #[arg(long)]
    start: bool,
    #[command(flatten)]
    who: UserArg,
}

pub fn run(cmd: CaseCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        CaseCommand::Assign {
            file,
            case,
            to,
            blinded,
            who,
        } => {
            let mut s = unlock(&file, &who, VerifyOnOpen::Yes)?;
            let readers = to
                .iter()
                .map(|n| s.member_id(n))
                .collect::<Result<Vec<Id>, _>>()?;
            s.case_act(
                &case_from_name(&case),
                CaseAction::Assign { readers, blinded },
            )?;
            println!(
                "assigned to {}{}",
                to.join(", "),
                if blinded { " (blinded)" } else { "" }
            );
        }
        CaseCommand::Submit { file, case, who } => {
            let mut s = unlock(&file, &who, VerifyOnOpen::Yes)?;
            let image = case_from_name(&case);
            s.case_act(&image, CaseAction::Submit)?;
            let status = s.case(&image)?.map_or(Status::New, |c| c.status);
            println!("submitted; the case is {}", status.as_str());
        }
        CaseCommand::Review(a) => {
            let mut s = unlock(&a.file, &a.who, VerifyOnOpen::Yes)?;
            let action = if a.start {
                CaseAction::StartReview
            } else if a.approve {
                CaseAction::Approve { note: None }
            } else if let Some(reason) = a.reject {
                CaseAction::Reject { reason }
            } else if let (Some(to), Some(question)) = (a.escalate_to, a.question) {
                CaseAction::Escalate {
                    to: s.member_id(&to)?,
                    question,
                }
            } else {
                anyhow::bail!(
                    "choose --approve, --reject REASON or --escalate-to USER --question TEXT"
                );
            };
            let image = case_from_name(&a.case);
            s.case_act(&image, action)?;
            let status = s.case(&image)?.map_or(Status::New, |c| c.status);
            println!("the case is {}", status.as_str());
        }
        CaseCommand::Adjudicate {
            file,
            case,
            answer,
            who,
        } => {
            let mut s = unlock(&file, &who, VerifyOnOpen::Yes)?;
            s.case_act(
                &case_from_name(&case),
                CaseAction::Adjudicate {
                    answer,
                    consensus: Vec::new(),
                },
            )?;
            println!("the case is adjudicated");
        }
        CaseCommand::Comment {
            file,
            case,
            text,
            annotation,
            mention,
            who,
        } => {
            let mut s = unlock(&file, &who, VerifyOnOpen::Yes)?;
            let annotation = annotation
                .map(|a| a.parse::<Id>())
                .transpose()
                .map_err(|e| anyhow::anyhow!("--annotation: {e}"))?;
            let mentions = mention
                .iter()
                .map(|n| s.member_id(n))
                .collect::<Result<Vec<Id>, _>>()?;
            s.case_act(
                &case_from_name(&case),
                CaseAction::Comment {
                    annotation,
                    text,
                    mentions,
                },
            )?;
            println!("comment added");
        }
        CaseCommand::Policy {
            file,
            second_read,
            who,
        } => {
            let mut s = unlock(&file, &who, VerifyOnOpen::Yes)?;
            s.set_review_policy(matches!(second_read, SecondRead::All))?;
            println!(
                "second read required for {}",
                match second_read {
                    SecondRead::All => "every case",
                    SecondRead::Flagged => "cases holding a class marked second read",
                }
            );
        }
        CaseCommand::Status { file, json, who } => {
            let mut s = unlock(&file, &who, VerifyOnOpen::Yes)?;
            let listing = status_listing(&mut s)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&listing)?);
            } else {
                print!("{}", listing.text());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `case status --json`.
#[derive(Debug, Serialize)]
pub struct StatusListing {
    pub cases: Vec<CaseLine>,
    /// Cases per status (every status listed, zeros included).
    pub counts: BTreeMap<&'static str, usize>,
    pub second_read_all: bool,
    /// Workflow records that did not apply (their author lacked the role, or the case
    /// had moved on), with why.
    pub ignored: Vec<IgnoredLine>,
}

#[derive(Debug, Serialize)]
pub struct CaseLine {
    /// Series instance UID or slide SHA-256.
    pub case: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub readers: Vec<String>,
    pub blinded: bool,
    pub submitted: Vec<String>,
    pub reviewer: Option<String>,
    pub escalated_to: Option<String>,
    pub question: Option<String>,
    pub answer: Option<String>,
    pub reject_reason: Option<String>,
    pub second_read: bool,
    pub comments: usize,
    pub created_ms: Option<i64>,
    pub submitted_ms: Option<i64>,
    pub decided_ms: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct IgnoredLine {
    pub author: String,
    pub action: &'static str,
    pub reason: String,
}

fn status_listing(s: &mut Session) -> anyhow::Result<StatusListing> {
    let cases: Cases = s.cases()?;
    let names = s.member_names()?;
    let name = |id: &Id| crate::project::members::name_or_id(&names, id);
    let mut counts: BTreeMap<&'static str, usize> =
        Status::ALL.iter().map(|st| (st.as_str(), 0)).collect();
    let mut lines = Vec::new();
    for c in cases.cases.values() {
        *counts.entry(c.status.as_str()).or_default() += 1;
        lines.push(line(c, &name));
    }
    Ok(StatusListing {
        cases: lines,
        counts,
        second_read_all: cases.second_read_all,
        ignored: cases
            .ignored
            .iter()
            .map(|i| IgnoredLine {
                author: name(&i.author),
                action: i.action,
                reason: i.reason.clone(),
            })
            .collect(),
    })
}

fn line(c: &CaseState, name: &dyn Fn(&Id) -> String) -> CaseLine {
    CaseLine {
        case: case_name(&c.case).to_owned(),
        kind: c.case.index_key().0,
        status: c.status.as_str(),
        readers: c.readers.iter().map(name).collect(),
        blinded: c.blinded,
        submitted: c.submitted.iter().map(name).collect(),
        reviewer: c.reviewer.as_ref().map(name),
        escalated_to: c.escalated_to.as_ref().map(name),
        question: c.question.clone(),
        answer: c.answer.clone(),
        reject_reason: c.reject_reason.clone(),
        second_read: c.second_read,
        comments: c.comments.len(),
        created_ms: c.created_ms(),
        submitted_ms: c.submitted_ms(),
        decided_ms: c.decided_ms(),
    }
}

impl StatusListing {
    fn text(&self) -> String {
        let mut out = String::new();
        for c in &self.cases {
            out.push_str(&format!(
                "{}\t{}\treaders: {}{}",
                c.case,
                c.status,
                c.readers.join(", "),
                if c.blinded { " (blinded)" } else { "" }
            ));
            if let Some(r) = &c.reviewer {
                out.push_str(&format!("\treviewer: {r}"));
            }
            if let Some(r) = &c.reject_reason {
                out.push_str(&format!("\trejected: {r}"));
            }
            if let (Some(t), Some(q)) = (&c.escalated_to, &c.question) {
                out.push_str(&format!("\tescalated to {t}: {q}"));
            }
            if let Some(a) = &c.answer {
                out.push_str(&format!("\tanswer: {a}"));
            }
            out.push('\n');
        }
        let counts: Vec<String> = self
            .counts
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        out.push_str(&format!(
            "{} cases{}{}\n",
            self.cases.len(),
            if counts.is_empty() { "" } else { ": " },
            counts.join(", ")
        ));
        for i in &self.ignored {
            out.push_str(&format!(
                "ignored: {} by {}: {}\n",
                i.action, i.author, i.reason
            ));
        }
        out
    }
}
